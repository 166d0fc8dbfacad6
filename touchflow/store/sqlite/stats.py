"""Counts for /metrics, read at scrape time: the store is the truth, also after a restart."""

from __future__ import annotations

from datetime import datetime

from touchflow.models import OutboxState
from touchflow.store.counts import DaemonSession
from touchflow.store.sqlite.connection import Connection
from touchflow.store.sqlite.queries import SQL, marks
from touchflow.store.values import from_utc_text, utc_text

# The reasons schema.sql's partial index ``outbox_trouble`` holds (send/trouble.py's).
TROUBLE_INDEXED = frozenset({"invalid_data", "render_error", "invalid_message", "rejected"})


class StatsMethods(Connection):
    async def outbox_counts_by_rule(self) -> list[tuple[OutboxState, str, int]]:
        """``(state, rule id, rows)`` for every pair that has rows."""
        rows = await self._fetch(SQL["outbox_counts_by_rule"], ())
        return [(OutboxState(state), str(rule), int(n)) for state, rule, n in rows]

    async def outbox_ready_count(self, now: datetime) -> int:
        """Pending and retrying rows whose time has come: the dispatcher's backlog."""
        rows = await self._fetch(SQL["outbox_ready_count"], (utc_text(now),))
        return int(rows[0][0])

    async def last_sent_at(self) -> datetime | None:
        rows = await self._fetch(SQL["last_sent_at"], ())
        return from_utc_text(rows[0][0]) if rows and rows[0][0] else None

    async def outbox_reason_counts(self) -> list[tuple[OutboxState, str, int]]:
        """``(state, reason, rows)`` of rows held, failed, expired or retrying, by reason."""
        rows = await self._fetch(SQL["outbox_reason_counts"], ())
        return [(OutboxState(state), str(reason), int(n)) for state, reason, n in rows]

    async def outbox_trouble(
        self, *, since: datetime, reasons: tuple[str, ...], retries: int
    ) -> list[tuple[str, int, int]]:
        """``(reason, rows, customers)``: rows cancelled or failed with one of ``reasons``
        due since ``since``; and as ``"retry"`` the rows retrying after ``retries`` or more
        attempts. The first reads the partial index of the rows held or failed for
        ``TROUBLE_INDEXED`` (``outbox_trouble``) when those are the reasons asked for,
        else the (state, due_at) index, as the second: neither reads the whole outbox."""
        name = (
            "outbox_trouble_held"
            if TROUBLE_INDEXED.issuperset(reasons)
            else "outbox_trouble_held_any"
        )
        statement = SQL[name].format(marks=marks(len(reasons)))
        held = await self._fetch(statement, (utc_text(since), *reasons))
        retrying = await self._fetch(SQL["outbox_trouble_retrying"], (retries,))
        return [(str(reason), int(n), int(c)) for reason, n, c in [*held, *retrying]]

    async def failed_count(self, *, since: datetime) -> int:
        rows = await self._fetch(SQL["failed_count"], (utc_text(since),))
        return int(rows[0][0])

    async def daemon_sessions(self) -> list[DaemonSession]:
        """None: one daemon holds a SQLite store (its lock file), and it knows itself."""
        return []
