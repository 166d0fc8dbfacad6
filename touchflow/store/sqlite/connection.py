"""One aiosqlite connection, its lock and its transactions: what every part of the SQLite
store runs its statements through.

Multi-statement work runs under one lock: a single connection has one
transaction at a time, and two coroutines must not interleave inside it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from touchflow.errors import StoreError
from touchflow.store.sqlite.queries import marks

# Bound parameters per IN (...) list: well below SQLite's limit (999 before 3.32).
CHUNK = 500


class Connection:
    """The base of the SQLite store's parts: each runs its SQL through these methods."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"cannot {action} store {self.path}: {exc}") from exc

    @asynccontextmanager
    async def _transaction(
        self, action: str, *, begin: str = "BEGIN IMMEDIATE"
    ) -> AsyncIterator[aiosqlite.Connection]:
        # Writers take the write lock up front (IMMEDIATE): a deferred transaction
        # that later needs to write can fail with SQLITE_BUSY despite busy_timeout.
        async with self._lock:
            with self._errors(action):
                try:
                    await run(self._db.execute(begin))
                    yield self._db
                    await run(self._db.execute("COMMIT"))
                except BaseException:
                    # Also when cancelled on the way: BEGIN or COMMIT may have run in
                    # SQLite's thread or not, so "no transaction is active" is fine.
                    await self._rollback()
                    raise

    async def _rollback(self) -> None:
        try:
            await run(self._db.execute("ROLLBACK"))
        except sqlite3.OperationalError as exc:
            if "no transaction is active" not in str(exc):
                raise

    async def _fetch(self, sql: str, params: tuple[Any, ...], *, action: str = "read") -> list[Any]:
        """One statement (its own transaction, if it writes) under the lock."""
        async with self._lock:
            with self._errors(action):
                return list(await self._db.execute_fetchall(sql, params))


async def run(statement: Awaitable[aiosqlite.Cursor]) -> None:
    """Await a statement and close its cursor, so no statement stays open at COMMIT."""
    cursor = await statement
    await cursor.close()


async def changed(db: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> int:
    """Run a write inside the caller's transaction: how many rows it changed."""
    cursor = await db.execute(sql, params)
    count = max(cursor.rowcount, 0)
    await cursor.close()
    return count


def chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    """``values`` in pieces an IN list holds."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


async def fetch_in(
    db: aiosqlite.Connection, statement: str, values: Sequence[str], before: tuple[Any, ...] = ()
) -> list[Any]:
    """``statement``, whose ``{marks}`` is an IN list of ``values``, in chunks; rows come
    back chunk by chunk, in the order of ``values``. ``before``: parameters of
    placeholders that come before the IN list."""
    rows: list[Any] = []
    for chunk in chunks(values):
        sql = statement.format(marks=marks(len(chunk)))
        rows.extend(await db.execute_fetchall(sql, (*before, *chunk)))
    return rows
