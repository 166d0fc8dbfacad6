"""Which customers changed, as the PostgreSQL store's ``changes`` table records them.

Triggers (schema.sql) add a row for every customer inserted or updated, event
inserted and suppression added, whoever writes. The reader takes the changes
lock exclusively (see ``touchflow_changes_writer`` in schema.sql), so no change
can commit below a seq it has read and later drops. It tries for the lock, a few
times over up to ``WAIT`` seconds, and never queues for it: a queued request
would make new writers wait behind it, and two writers, one waiting for the
other's row, could deadlock with the reader.
"""

from __future__ import annotations

import asyncio
import time

from touchflow.store.postgres.connection import Connection, Db, fetch
from touchflow.store.postgres.queries import SQL

WAIT = 2.0  # seconds the reader waits for writers in flight, then reports nothing yet
_TRY_EVERY = 0.02


class ChangesMethods(Connection):
    async def pending_changes(self, *, limit: int) -> tuple[int, set[str] | None]:
        """``(last seq, customer ids)``; ids None when more than ``limit`` changed (plan all).

        While a long write holds the changes (an import), nothing is reported yet: the
        next call sees it whole."""
        async with self._transaction("read changes from") as db:
            if not await _no_writer(db):
                return 0, set()
            rows = await fetch(db, SQL["pending_changes"], (limit + 1,))
            last, count = rows[0]
            if last is None:
                return 0, set()
            if count > limit:
                return int(last), None
            ids = await fetch(db, SQL["changed_customers"], (last,))
            return int(last), {str(r[0]) for r in ids}

    async def drop_changes(self, upto: int) -> None:
        async with self._transaction("clear changes in") as db:
            await db.execute(SQL["drop_changes"], (upto,))


async def _no_writer(db: Db) -> bool:
    """Take the changes lock for this transaction, trying for up to ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    while not (await fetch(db, SQL["changes_reader"]))[0][0]:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_TRY_EVERY)
    return True
