"""The PostgreSQL store: ``PostgresStore``, opened on a URL, its parts joined into one ``Store``.

A pool of connections (psycopg 3), one transaction per call, the schema migrated
on open. The parts (customers, facts, outbox, changes, records, stats) are classes
over the same pool. The driver is an extra (``touchflow[postgresql]``): only this
package imports it, and only when a PostgreSQL location is opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
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
from touchflow.store.postgres.migrate import SCHEMA_VERSION, migrate, version_of
from touchflow.store.postgres.migrate import drop as drop_schema
from touchflow.store.postgres.outbox import OutboxMethods
from touchflow.store.postgres.plan_runs import PlanRunMethods
from touchflow.store.postgres.queries import SQL
from touchflow.store.postgres.records import RecordMethods
from touchflow.store.postgres.stats import StatsMethods
from touchflow.store.postgres.urls import checked, driver_words

# Connections a store holds at most: the daemon's dispatcher, its planner reading the
# next page while one is planned, and the HTTP interface, side by side; and one more,
# made when first needed, for the dispatcher's outcomes (OUTCOME_SESSION).
POOL_SIZE = 3
OUTCOME_POOL_SIZE = 1

# The outcomes' sessions. Their commits do not wait for the disk (queries.sql,
# finish_claims, says why that is safe), and their statements are planned once per
# session: PostgreSQL plans a prepared statement again at every run while its plan for
# the values given looks cheaper than the generic one, which it always does for a few
# rows of arrays; planning was about a third of the server's work on groups of four
# outcomes (docs/performance.md). finish_claims is written so that the plan made once
# finds each row by its key (a test checks it).
OUTCOME_SESSION = (
    "SET TIME ZONE 'UTC'; SET synchronous_commit = off; SET plan_cache_mode = force_generic_plan"
)


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
    PlanRunMethods,
    RecordMethods,
    StatsMethods,
    HistoryMethods,
):
    """The ``Store`` on one PostgreSQL database. Create it with ``open_store(url)``."""

    @classmethod
    async def open(cls, url: str, *, read_only: bool = False) -> PostgresStore:
        """Open the store at ``url``, creating or upgrading its schema first;
        ``read_only``: as it is (another version is refused), in sessions the server
        keeps read-only."""
        where = shown_location(url)
        async with _connected(url, "open") as db:
            try:
                if read_only:
                    await _same_version(db, where)
                else:
                    await migrate(db, where)
            except psycopg.Error as exc:
                words = driver_words(exc, url)
                raise StoreError(f"cannot prepare store {where}: {words}") from exc
        configure = _configure_read_only if read_only else _configure
        pool = _pool(url, "touchflow", min_size=1, max_size=POOL_SIZE, configure=configure)
        outcomes = _pool(
            url, "touchflow outcomes", min_size=0, max_size=OUTCOME_POOL_SIZE,
            configure=_configure_outcomes,
        )  # fmt: skip
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT)
            await outcomes.open()
        except PoolTimeout as exc:
            await pool.close()
            raise StoreError(f"cannot open store {where}: no connection came") from exc
        return cls(pool, url, where, outcomes=outcomes)

    @classmethod
    async def migrate(cls, url: str) -> tuple[int, int]:
        """Create or upgrade the schema at ``url``: the versions before and after."""
        async with _connected(url, "prepare") as db:
            return await migrate(db, shown_location(url))

    @classmethod
    async def version(cls, url: str) -> int | None:
        """The schema's version at ``url`` as it is (None: none there), read only."""
        async with _connected(url, "read") as db:
            return await version_of(db, shown_location(url))

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
        await self._outcomes.close()
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


def _pool(
    url: str, name: str, *, min_size: int, max_size: int, configure: Callable[[Db], Awaitable[None]]
) -> Pool:
    pool: Pool = AsyncConnectionPool(
        url, min_size=min_size, max_size=max_size, open=False, configure=configure,
        kwargs=connection_options(), name=name,
        # A connection is looked at as it leaves the pool (a round trip only if the
        # server has spoken to it): after the server restarted, or ended its
        # session, the first call gets a new one instead of an error.
        check=check_on_checkout,
    )  # fmt: skip
    return pool


async def _configure(db: Db) -> None:
    # Instants come back in UTC (aware, tzinfo UTC), as the SQLite store gives them.
    await db.execute("SET TIME ZONE 'UTC'")


async def _configure_read_only(db: Db) -> None:
    """A read-only store's sessions: the server refuses any write in them."""
    await _configure(db)
    await db.execute("SET default_transaction_read_only = on")


async def _same_version(db: Db, where: str) -> None:
    """A read-only open neither creates nor upgrades: another version is refused."""
    version = await version_of(db, where)
    if version is None:
        raise StoreError(f"no store yet at {where}: nothing to read (opened read-only)")
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"store {where} has schema version {version}; this touchflow reads version "
            f"{SCHEMA_VERSION} (opened read-only: not upgraded)"
        )


async def _configure_outcomes(db: Db) -> None:
    await db.execute(OUTCOME_SESSION)
