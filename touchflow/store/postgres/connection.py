"""A pool of connections and the transactions every part of the PostgreSQL store runs in.

Each call takes a connection from the pool for one transaction: committed when its
block ends, rolled back if it raises; a call of one statement runs it alone, which
PostgreSQL makes a transaction of its own (the connections are in autocommit: no
BEGIN and COMMIT round trips). Unlike the SQLite store's one connection, calls run
side by side (the next page of facts is read while claims go on); each sees only
what others committed.
"""

from __future__ import annotations

import os
import select
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from touchflow.errors import StoreError

Db = psycopg.AsyncConnection[Any]
Pool = AsyncConnectionPool[Db]
CONNECT_TIMEOUT = 10  # seconds


def connection_options() -> dict[str, Any]:
    """Every connection of the store's: in autocommit, named after its process (in
    ``pg_stat_activity``, so an operator sees whose sessions these are)."""
    return {
        **KEEPALIVES,
        "connect_timeout": CONNECT_TIMEOUT,
        "autocommit": True,
        "application_name": f"touchflow pid {os.getpid()}",
    }


# A server gone without a word (a network cut): its connections fail within about a
# minute instead of the system's two hours of TCP silence.
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,  # ms: unacknowledged data gives up as well
}


async def check_on_checkout(db: Db) -> None:
    """The pool's check as a connection leaves it: a round trip only if the server has
    spoken to this idle connection, which in our use means it is going away.

    A server that restarts, or ends a session (``pg_terminate_backend``), first sends
    it a FATAL message, then closes the socket; a backend killed outright leaves an
    end of file. Either makes the idle socket readable, which one ``poll`` sees
    without a round trip; then the pool's own check (an empty query) runs, fails, and
    the pool hands out another connection. A readable socket for another reason (a
    notice) costs that one round trip, no more. Running the empty query at every
    checkout (psycopg_pool's ``check_connection``) made every claim and every outcome
    two round trips (docs/performance.md)."""
    if db.closed or _spoken(db):
        await AsyncConnectionPool.check_connection(db)


def _spoken(db: Db) -> bool:
    """Whether the idle connection's socket has something to read (or is closed)."""
    try:
        fd = db.fileno()
    except psycopg.Error:  # closed meanwhile: the real check says so
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


_MANY = 64  # values in a list parameter above which a statement is planned for them


class Connection:
    """The base of the PostgreSQL store's parts: each runs its SQL through these methods.

    ``outcomes`` is a pool of its own for the dispatcher's outcomes (``finish_claims``):
    its sessions are set up for them (see ``OUTCOME_SESSION``); every other statement
    runs on ``pool``."""

    def __init__(self, pool: Pool, url: str, shown: str, *, outcomes: Pool | None = None) -> None:
        self._pool = pool
        self._outcomes = outcomes or pool
        self._url = url
        self.shown = shown  # the location in messages: never a password

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise StoreError(f"cannot {action} store {self.shown}: {_words(exc)}") from exc

    @asynccontextmanager
    async def _transaction(
        self, action: str, *, snapshot: bool = False, outcome: bool = False
    ) -> AsyncIterator[Db]:
        """One transaction; ``snapshot``: read-only, its statements see one moment;
        ``outcome``: on a connection of the outcomes' pool."""
        pool = self._outcomes if outcome else self._pool
        with self._errors(action):
            async with pool.connection() as db, db.transaction():
                if snapshot:
                    await db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield db

    async def _fetch(
        self,
        sql: str,
        params: tuple[Any, ...] | dict[str, Any] = (),
        *,
        action: str = "read",
        binary: bool = False,
        outcome: bool = False,
    ) -> list[tuple[Any, ...]]:
        """One statement, its own transaction (the pool's connections are in autocommit:
        no BEGIN and COMMIT round trips): its rows. ``binary``: the rows come in the
        server's binary form (instants as numbers, not text to format and parse);
        ``outcome``: on a connection of the outcomes' pool."""
        with self._errors(action):
            async with (self._outcomes if outcome else self._pool).connection() as db:
                return await fetch(db, sql, params, binary=binary)


async def fetch(
    db: Db, sql: str, params: tuple[Any, ...] | dict[str, Any] = (), *, binary: bool = False
) -> list[Any]:
    """The rows of one statement inside the caller's transaction."""
    cursor = await db.execute(sql, params, binary=binary, prepare=planned_for(params))
    return await cursor.fetchall()


async def changed(db: Db, sql: str, params: tuple[Any, ...] | dict[str, Any]) -> int:
    """Run a write inside the caller's transaction: how many rows it changed."""
    cursor = await db.execute(sql, params, prepare=planned_for(params))
    return max(cursor.rowcount, 0)


def planned_for(params: tuple[Any, ...] | dict[str, Any]) -> bool | None:
    """False for a statement given a list of more than ``_MANY`` values: it is planned for
    those values each time, never prepared. psycopg prepares a statement on its fifth run,
    and the server may then keep a generic plan, in which ``col = ANY($1)`` cannot be
    hashed: each row read is compared with every value (a page of 10,000 customers
    against an outbox of 230,000 open rows took 55 s instead of 0.1). None: psycopg's
    default."""
    values = params.values() if isinstance(params, dict) else params
    return False if any(isinstance(v, list) and len(v) > _MANY for v in values) else None


def _words(exc: psycopg.Error) -> str:
    """The server's (or libpq's) first line: no statement text, no parameters."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
