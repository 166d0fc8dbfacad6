"""Counts for /metrics, read at scrape time: the store is the truth, also after a restart.

A mixin of ``SqliteStore`` (same connection, same lock).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from touchflow.models import OutboxState
from touchflow.store.values import from_utc_text, utc_text


class StatsMethods:
    if TYPE_CHECKING:

        async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]: ...

    async def outbox_counts_by_rule(self) -> list[tuple[OutboxState, str, int]]:
        """``(state, rule id, rows)`` for every pair that has rows."""
        rows = await self._fetch(
            "SELECT state, rule_id, COUNT(*) FROM outbox GROUP BY state, rule_id", ()
        )
        return [(OutboxState(state), str(rule), int(n)) for state, rule, n in rows]

    async def outbox_ready_count(self, now: datetime) -> int:
        """Pending and retrying rows whose time has come: the dispatcher's backlog."""
        rows = await self._fetch(
            "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'retry') "
            "AND next_attempt_at <= ?",
            (utc_text(now),),
        )
        return int(rows[0][0])

    async def last_sent_at(self) -> datetime | None:
        rows = await self._fetch("SELECT MAX(sent_at) FROM outbox WHERE state = 'sent'", ())
        return from_utc_text(rows[0][0]) if rows and rows[0][0] else None

    async def outbox_reason_counts(self) -> list[tuple[OutboxState, str, int]]:
        """``(state, reason, rows)`` of rows held, failed, expired or retrying, by reason."""
        rows = await self._fetch(
            "SELECT state, reason, COUNT(*) FROM outbox "
            "WHERE state IN ('cancelled', 'suppressed', 'failed', 'expired', 'retry') "
            "AND reason IS NOT NULL GROUP BY state, reason",
            (),
        )
        return [(OutboxState(state), str(reason), int(n)) for state, reason, n in rows]

    async def outbox_trouble(
        self, *, since: datetime, reasons: tuple[str, ...], retries: int
    ) -> list[tuple[str, int, int]]:
        """``(reason, rows, customers)``: rows cancelled or failed with one of ``reasons``
        due since ``since``; and as ``"retry"`` the rows retrying after ``retries`` or more
        attempts. Both read the (state, due_at) index, not the whole outbox."""
        marks = ", ".join("?" for _ in reasons)
        held = await self._fetch(
            "SELECT reason, COUNT(*), COUNT(DISTINCT customer_id) FROM outbox "
            f"WHERE state IN ('cancelled', 'failed') AND due_at >= ? AND reason IN ({marks}) "
            "GROUP BY reason",
            (utc_text(since), *reasons),
        )
        retrying = await self._fetch(
            "SELECT 'retry', COUNT(*), COUNT(DISTINCT customer_id) FROM outbox "
            "WHERE state = 'retry' AND attempts >= ? HAVING COUNT(*) > 0",
            (retries,),
        )
        return [(str(reason), int(n), int(c)) for reason, n, c in [*held, *retrying]]
