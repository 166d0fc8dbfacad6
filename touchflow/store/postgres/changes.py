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
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

import psycopg

from touchflow.errors import StoreError
from touchflow.store.postgres.connection import Connection, Db, connection_options, fetch
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

    async def drop_changes(self, upto: int, *, keep: bool = False) -> None:
        async with self._transaction("clear changes in") as db:
            rows = await fetch(db, SQL["mark_changes_done"], {"upto": upto})
            if not keep:
                await db.execute(SQL["drop_changes"], (int(rows[0][0]),))

    async def changes_done(self) -> int:
        rows = await self._fetch(SQL["changes_done"])
        return int(rows[0][0])

    async def replanned_after(self, customer_ids: Collection[str], seq: int) -> set[str]:
        rows = await self._fetch(SQL["replanned_after"], (seq, sorted(customer_ids)))
        return {str(r[0]) for r in rows}


class SharingMethods(Connection):
    """What lets several daemons share the store: one planning step at a time, and
    word of what another one committed. Each on a connection of its own, outside the
    pool: a session lock and a LISTEN outlive a transaction."""

    _turn_db: Db | None = None

    @asynccontextmanager
    async def planning_turn(self, *, shared: bool = False) -> AsyncIterator[None]:
        take, end = ("planning_turn_shared", "planning_turn_shared_end") if shared else (
            "planning_turn", "planning_turn_end")  # fmt: skip
        with self._errors("take the planning turn of"):
            db = await self._turn_connection()
            try:
                await db.execute(SQL[take])
            except psycopg.OperationalError:  # cut since its last use: once more, anew
                await db.close()
                db = await self._turn_connection()
                await db.execute(SQL[take])
        try:
            yield
        finally:
            try:
                await db.execute(SQL[end])
            except psycopg.Error:  # the session is gone, and its lock with it
                await db.close()

    async def _turn_connection(self) -> Db:
        if self._turn_db is None or self._turn_db.closed or self._turn_db.broken:
            self._turn_db = await self._connect()
        return self._turn_db

    async def wake_ups(self) -> AsyncIterator[str]:
        mine = f"{await self._schema()} "
        with self._errors("listen to"):
            async with await self._connect() as db:
                await db.execute(SQL["listen"])
                async for note in db.notifies():
                    if note.payload.startswith(mine):
                        yield note.payload[len(mine) :]
        raise StoreError(f"cannot listen to store {self.shown}: the connection closed")

    async def _schema(self) -> str:
        rows = await self._fetch(SQL["current_schema"])
        return str(rows[0][0])

    async def _connect(self) -> Db:
        return await psycopg.AsyncConnection.connect(self._url, **connection_options())

    async def close_sharing(self) -> None:
        if self._turn_db is not None:
            await self._turn_db.close()
            self._turn_db = None


async def _no_writer(db: Db) -> bool:
    """Take the changes lock for this transaction, trying for up to ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    while not (await fetch(db, SQL["changes_reader"]))[0][0]:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_TRY_EVERY)
    return True
