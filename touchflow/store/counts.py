"""``StatsStore``, the part of the ``Store`` boundary (``touchflow.store.boundary``) that
counts the outbox for /metrics and `touchflow status`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from touchflow.models import OutboxState


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonSession:
    """A daemon running on a shared (PostgreSQL) store, as the server sees its lock."""

    name: str  # its lock connection's application_name: "touchflow run pid 4242"
    address: str  # the client's address ("" over a Unix socket)
    since: datetime  # when that connection was made: about when the daemon started
    leads: bool  # it holds the lead: it plans


class StatsStore(Protocol):
    """Counts for /metrics and `touchflow status`, read when asked: the store is the truth."""

    async def outbox_counts_by_rule(self) -> list[tuple[OutboxState, str, int]]:
        """``(state, rule id, rows)`` for every pair that has rows."""
        ...

    async def outbox_ready_count(self, now: datetime) -> int:
        """Pending and retrying rows whose time has come: the dispatcher's backlog."""
        ...

    async def last_sent_at(self) -> datetime | None: ...

    async def outbox_reason_counts(self) -> list[tuple[OutboxState, str, int]]:
        """``(state, reason, rows)`` of rows held, failed, expired or retrying, by reason."""
        ...

    async def outbox_trouble(
        self, *, since: datetime, reasons: tuple[str, ...], retries: int
    ) -> list[tuple[str, int, int]]:
        """``(reason, rows, customers)``: rows cancelled or failed with one of ``reasons``
        due since ``since``; and as ``"retry"`` the rows retrying after ``retries`` or more
        attempts (left out when there are none)."""
        ...

    async def failed_count(self, *, since: datetime) -> int:
        """Rows failed that were due since ``since`` (on the (state, due_at) index)."""
        ...

    async def daemon_sessions(self) -> list[DaemonSession]:
        """The daemons sharing this store, oldest first; none on a store one daemon
        holds alone (SQLite: its lock file)."""
        ...
