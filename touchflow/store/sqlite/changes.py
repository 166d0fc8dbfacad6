"""Which customers changed, as the SQLite store's ``changes`` table records them.

Triggers (schema.sql) add a row for every customer inserted or updated, event
inserted and suppression added, whoever writes; the store's own deletes and
re-queues add theirs by hand. The daemon reads them, plans those customers
again and drops what it has seen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, nullcontext

from touchflow.store.sqlite.connection import Connection, run
from touchflow.store.sqlite.queries import SQL


class ChangesMethods(Connection):
    async def pending_changes(self, *, limit: int) -> tuple[int, set[str] | None]:
        """``(last seq, customer ids)``; ids None when more than ``limit`` changed (plan all)."""
        rows = await self._fetch(SQL["pending_changes"], (limit + 1,))
        last, count = rows[0]
        if last is None:
            return 0, set()
        if count > limit:
            return int(last), None
        ids = await self._fetch(SQL["changed_customers"], (last,))
        return int(last), {str(r[0]) for r in ids}

    async def drop_changes(self, upto: int) -> None:
        async with self._transaction("clear changes in") as db:
            await run(db.execute(SQL["drop_changes"], (upto,)))

    def planning_turn(self) -> AbstractAsyncContextManager[None]:
        # One daemon per SQLite file (its lock file): its own turn is the only one.
        return nullcontext()

    async def wake_ups(self) -> AsyncIterator[str]:
        # SQLite tells no one what another connection committed: the watch timer polls.
        return
        yield  # an async generator that ends at once
