"""Which customers changed, as the SQLite store's ``changes`` table records them.

Triggers (schema.sql) add a row for every customer inserted or updated, event
inserted and suppression added, whoever writes; the store's own deletes and
re-queues add theirs by hand. The daemon reads them, plans those customers
again and drops what it has seen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import AbstractAsyncContextManager, nullcontext

from touchflow.store.planning import CHANGES_DONE
from touchflow.store.sqlite.connection import Connection, fetch_in, run
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

    async def drop_changes(self, upto: int, *, keep: bool = False) -> None:
        async with self._transaction("clear changes in") as db:
            rows = list(await db.execute_fetchall(SQL["changes_done"]))
            last = list(await db.execute_fetchall(SQL["history_last_change"]))
            done = max(int(rows[0][0]), min(upto, int(last[0][0])))  # never past the last
            await run(db.execute(SQL["set_meta"], (CHANGES_DONE, str(done))))
            if not keep:
                await run(db.execute(SQL["drop_changes"], (done,)))

    async def changes_done(self) -> int:
        rows = await self._fetch(SQL["changes_done"], ())
        return int(rows[0][0])

    async def replanned_after(self, customer_ids: Collection[str], seq: int) -> set[str]:
        async with self._lock:
            with self._errors("read changes from"):
                rows = await fetch_in(
                    self._db, SQL["replanned_after"], sorted(customer_ids), (seq,)
                )
        return {str(r[0]) for r in rows}

    def planning_turn(self, *, shared: bool = False) -> AbstractAsyncContextManager[None]:
        # One daemon per SQLite file (its lock file): its own turn is the only one.
        return nullcontext()

    async def wake_ups(self) -> AsyncIterator[str]:
        # SQLite tells no one what another connection committed: the watch timer polls.
        return
        yield  # an async generator that ends at once
