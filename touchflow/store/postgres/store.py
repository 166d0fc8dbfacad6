"""The PostgreSQL store: ``PostgresStore``, opened on a URL, its parts joined into one ``Store``.

A pool of connections (psycopg 3), one transaction per call, the schema migrated
on open. The parts (customers, facts, outbox, changes, records, stats) are classes
over the same pool. The driver is an extra (``touchflow[postgresql]``): only this
package imports it, and only when a PostgreSQL location is opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from touchflow.config.store import shown_location
from touchflow.errors import StoreError
from touchflow.store.postgres.changes import ChangesMethods, SharingMethods
from touchflow.store.postgres.connection import (
    CONNECT_TIMEOUT,
    Db,
    Pool,
    check_on_checkout,
    connection_options,
)
from touchflow.store.postgres.customers import CustomerMethods
from touchflow.store.postgres.facts import FactsMethods
from touchflow.store.postgres.history import HistoryMethods
from touchflow.store.postgres.migrate import drop as drop_schema
from touchflow.store.postgres.migrate import migrate
from touchflow.store.postgres.outbox import OutboxMethods
from touchflow.store.postgres.queries import SQL
from touchflow.store.postgres.records import RecordMethods
from touchflow.store.postgres.stats import StatsMethods
from touchflow.store.postgres.urls import checked, driver_words

# Connections a store holds at most: the daemon's dispatcher, its planner reading the
# next page while one is planned, and the HTTP interface, side by side.
POOL_SIZE = 4


@asynccontextmanager
async def _connected(url: str, doing: str) -> AsyncIterator[Db]:
    """A connection of its own for one job on the store at ``url``; what the driver
    refuses is a ``StoreError`` (``cannot DOING store …``) that never shows a password."""
    checked(url, doing)
    try:
        async with await psycopg.AsyncConnection.connect(
            url, connect_timeout=CONNECT_TIMEOUT
        ) as db:
            yield db
    except psycopg.Error as exc:
        where = shown_location(url)
        raise StoreError(f"cannot {doing} store {where}: {driver_words(exc, url)}") from exc


class PostgresStore(
    OutboxMethods,
    CustomerMethods,
    FactsMethods,
    ChangesMethods,
    SharingMethods,
    RecordMethods,
    StatsMethods,
    HistoryMethods,
):
    """The ``Store`` on one PostgreSQL database. Create it with ``open_store(url)``."""

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        """Open the store at ``url``, creating or upgrading its schema first."""
        where = shown_location(url)
        async with _connected(url, "open") as db:
            try:
                await migrate(db, where)
            except psycopg.Error as exc:
                words = driver_words(exc, url)
                raise StoreError(f"cannot prepare store {where}: {words}") from exc
        pool: Pool = AsyncConnectionPool(
            url, min_size=1, max_size=POOL_SIZE, open=False, configure=_configure,
            kwargs=connection_options(), name="touchflow",
            # A connection is looked at as it leaves the pool (a round trip only if the
            # server has spoken to it): after the server restarted, or ended its
            # session, the first call gets a new one instead of an error.
            check=check_on_checkout,
        )  # fmt: skip
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except PoolTimeout as exc:
            await pool.close()
            raise StoreError(f"cannot open store {where}: no connection came") from exc
        return cls(pool, url, where)

    @classmethod
    async def migrate(cls, url: str) -> tuple[int, int]:
        """Create or upgrade the schema at ``url``: the versions before and after."""
        async with _connected(url, "prepare") as db:
            return await migrate(db, shown_location(url))

    @classmethod
    async def drop(cls, url: str) -> None:
        """Drop the store at ``url``: its tables, their rows and its functions."""
        async with _connected(url, "drop") as db:
            await drop_schema(db)

    @property
    def location(self) -> str:
        return self._url

    async def get_meta(self, key: str) -> str | None:
        rows = await self._fetch(SQL["get_meta"], (key,))
        return str(rows[0][0]) if rows else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self._transaction("write meta to") as db:
            await db.execute(SQL["set_meta"], (key, value))

    async def close(self) -> None:
        await self.close_sharing()
        await self._pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def _configure(db: Db) -> None:
    # Instants come back in UTC (aware, tzinfo UTC), as the SQLite store gives them.
    await db.execute("SET TIME ZONE 'UTC'")
