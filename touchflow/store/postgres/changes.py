"""Which customers changed, as the PostgreSQL store's ``changes`` table records them.

Triggers (schema.sql) add a row for every customer inserted or updated, event
inserted and suppression added, whoever writes. The reader takes the changes
lock exclusively (see ``touchflow_changes_writer`` in schema.sql), so no change
can commit below a seq it has read and later drops.
"""

from __future__ import annotations

import psycopg

from touchflow.errors import StoreError
from touchflow.store.postgres.connection import Connection, fetch
from touchflow.store.postgres.queries import SQL


class ChangesMethods(Connection):
    async def pending_changes(self, *, limit: int) -> tuple[int, set[str] | None]:
        """``(last seq, customer ids)``; ids None when more than ``limit`` changed (plan all).

        While a long write holds the changes (an import), nothing is reported yet: the
        next call sees it whole."""
        try:
            async with self._transaction("read changes from") as db:
                await db.execute(SQL["changes_wait"])
                await db.execute(SQL["changes_reader"])
                rows = await fetch(db, SQL["pending_changes"], (limit + 1,))
                last, count = rows[0]
                if last is None:
                    return 0, set()
                if count > limit:
                    return int(last), None
                ids = await fetch(db, SQL["changed_customers"], (last,))
                return int(last), {str(r[0]) for r in ids}
        except StoreError as exc:
            if isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
                return 0, set()
            raise

    async def drop_changes(self, upto: int) -> None:
        async with self._transaction("clear changes in") as db:
            await db.execute(SQL["drop_changes"], (upto,))
