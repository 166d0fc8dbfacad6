"""Counts for /metrics, read at scrape time: the store is the truth, also after a restart."""

from __future__ import annotations

from datetime import datetime

from touchflow.models import OutboxState
from touchflow.store.counts import DaemonSession
from touchflow.store.postgres.columns import aware
from touchflow.store.postgres.connection import Connection
from touchflow.store.postgres.queries import SQL


class StatsMethods(Connection):
    async def outbox_counts_by_rule(self) -> list[tuple[OutboxState, str, int]]:
        rows = await self._fetch(SQL["outbox_counts_by_rule"])
        return [(OutboxState(state), str(rule), int(n)) for state, rule, n in rows]

    async def outbox_ready_count(self, now: datetime) -> int:
        rows = await self._fetch(SQL["outbox_ready_count"], (aware(now),))
        return int(rows[0][0])

    async def last_sent_at(self) -> datetime | None:
        rows = await self._fetch(SQL["last_sent_at"])
        found: datetime | None = rows[0][0]
        return found

    async def outbox_reason_counts(self) -> list[tuple[OutboxState, str, int]]:
        rows = await self._fetch(SQL["outbox_reason_counts"])
        return [(OutboxState(state), str(reason), int(n)) for state, reason, n in rows]

    async def outbox_trouble(
        self, *, since: datetime, reasons: tuple[str, ...], retries: int
    ) -> list[tuple[str, int, int]]:
        held = await self._fetch(SQL["outbox_trouble_held"], (aware(since), list(reasons)))
        retrying = await self._fetch(SQL["outbox_trouble_retrying"], (retries,))
        return [(str(reason), int(n), int(c)) for reason, n, c in [*held, *retrying]]

    async def failed_count(self, *, since: datetime) -> int:
        rows = await self._fetch(SQL["failed_count"], (aware(since),))
        return int(rows[0][0])

    async def daemon_sessions(self) -> list[DaemonSession]:
        rows = await self._fetch(SQL["daemon_sessions"])
        return [
            DaemonSession(name=str(name), address=address or "", since=since, leads=bool(leads))
            for name, address, since, leads in rows
        ]
