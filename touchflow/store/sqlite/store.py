"""The SQLite store: ``SqliteStore``, opened on one file, its parts joined into one ``Store``.

One connection (aiosqlite: SQLite's calls run in its thread), WAL mode, one
transaction per write. The parts (customers, facts, outbox, changes, records,
stats) are classes over the same ``Connection``: same connection, same lock,
same transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

import aiosqlite

from touchflow.errors import StoreError
from touchflow.store.sqlite.changes import ChangesMethods
from touchflow.store.sqlite.connection import run
from touchflow.store.sqlite.customers import CustomerMethods
from touchflow.store.sqlite.facts import FactsMethods
from touchflow.store.sqlite.history import HistoryMethods
from touchflow.store.sqlite.outbox import OutboxMethods
from touchflow.store.sqlite.plan_runs import PlanRunMethods
from touchflow.store.sqlite.queries import SCHEMA, SQL
from touchflow.store.sqlite.records import RecordMethods
from touchflow.store.sqlite.stats import StatsMethods

# Versions whose store this one upgrades in place: 1 → 2 only added tables (the schema's
# IF NOT EXISTS makes them); 2 → 3 adds customers.created_at, 3 → 4 events.recorded_at
# (see _add_column), 4 → 5 outbox.channel, 5 → 6 customers.consent_sms.
SCHEMA_VERSION = "6"
# Each upgrade that adds a column: the version it starts from, the table and column, its
# ALTER TABLE and the statement that raises the version.
_ADDED_COLUMNS = {
    "2": ("customers", "created_at", "add_created_at", "upgrade_2_to_3"),
    "3": ("events", "recorded_at", "add_recorded_at", "upgrade_3_to_4"),
    "4": ("outbox", "channel", "add_outbox_channel", "upgrade_4_to_5"),
    "5": ("customers", "consent_sms", "add_consent_sms", "upgrade_5_to_6"),
}
_PRAGMAS = ("busy_timeout", "foreign_keys", "journal_mode_wal", "synchronous_normal")


async def read_version(path: Path) -> int | None:
    """The schema version of the store at ``path`` as it is, opened read-only (nothing
    created, upgraded or locked); None if there is no store there."""

    def read() -> int | None:
        if not path.exists():
            return None
        try:
            with contextlib.closing(
                sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            ) as db:
                found = db.execute("SELECT name FROM sqlite_master WHERE name = 'meta'").fetchall()
                rows = db.execute(SQL["schema_version"]).fetchall() if found else []
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read store {path}: {exc}") from exc
        if not rows:
            return None
        try:
            return int(rows[0][0])
        except (TypeError, ValueError):
            raise StoreError(f"store {path} has schema version {rows[0][0]!r}") from None

    return await asyncio.to_thread(read)


class SqliteStore(
    OutboxMethods,
    CustomerMethods,
    FactsMethods,
    ChangesMethods,
    PlanRunMethods,
    RecordMethods,
    StatsMethods,
    HistoryMethods,
):
    """The ``Store`` on one SQLite file. Create it with ``open_store(path)`` (or
    ``await SqliteStore.open(path)`` where the SQLite store itself is meant)."""

    @classmethod
    async def open(cls, path: Path, *, read_only: bool = False) -> SqliteStore:
        """Open (creating it and its directory if needed) the store at ``path``;
        ``read_only``: open it as it is, writing nothing (no journal mode, no schema, no
        upgrade: a store of another version is refused), on a read-only connection."""
        if read_only:
            return await cls._open_read_only(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        connection = aiosqlite.connect(path, isolation_level=None)
        try:
            db = await connection
        except sqlite3.Error as exc:
            await _join_worker(connection)
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        store = cls(db, path)
        try:
            await store._prepare()
        except BaseException:
            await db.close()
            raise
        return store

    @classmethod
    async def _open_read_only(cls, path: Path) -> SqliteStore:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        connection = aiosqlite.connect(uri, uri=True, isolation_level=None)
        try:
            db = await connection
        except sqlite3.Error as exc:
            await _join_worker(connection)
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        store = cls(db, path)
        try:
            with store._errors("open"):
                await db.execute_fetchall(SQL["busy_timeout"])
            version = await store.get_meta("schema_version")
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"store {path} has schema version {version}; this touchflow reads "
                    f"version {SCHEMA_VERSION} (opened read-only: not upgraded)"
                )
        except BaseException:
            await db.close()
            raise
        return store

    @property
    def location(self) -> str:
        return str(self.path)

    async def _prepare(self) -> None:
        with self._errors("open"):
            # busy_timeout first, so the statements below wait for another process.
            # PRAGMAs return rows; fetching them finishes the statement before COMMIT.
            for pragma in _PRAGMAS:
                await self._db.execute_fetchall(SQL[pragma])
            # One transaction: two processes opening a new file at once do not race.
            script = f"BEGIN IMMEDIATE;\n{SCHEMA}\n{SQL['upgrade_1_to_2']}\nCOMMIT;"
            await self._db.executescript(script)
        version = await self.get_meta("schema_version")
        while version in _ADDED_COLUMNS:
            version = await self._add_column(version)
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {version}; "
                f"this touchflow reads version {SCHEMA_VERSION}"
            )

    async def _add_column(self, version: str) -> str | None:
        """Upgrade ``version`` by one (``_ADDED_COLUMNS``). ADD COLUMN has no IF NOT
        EXISTS: the version is read again in the write transaction, as two processes may
        open an old file at once. Rows stored before keep NULL: when customers came
        (2 → 3) or events were recorded (3 → 4) is not known, so nothing is left out;
        outbox rows stored before 5 were all email (its DEFAULT); customers stored before 6
        have no consent to texts (its DEFAULT)."""
        async with self._transaction("upgrade") as db:
            rows = list(await db.execute_fetchall(SQL["schema_version"]))
            if rows and rows[0][0] == version:
                table, column, add, upgrade = _ADDED_COLUMNS[version]
                # A table newer than the file (the outbox of a version 1 file) was just
                # made by the schema, with the column already.
                has = list(await db.execute_fetchall(SQL["has_column"], (table, column)))
                if not has[0][0]:
                    await run(db.execute(SQL[add]))
                await run(db.execute(SQL[upgrade]))
        return await self.get_meta("schema_version")

    async def get_meta(self, key: str) -> str | None:
        rows = await self._fetch(SQL["get_meta"], (key,))
        return str(rows[0][0]) if rows else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self._transaction("write meta to") as db:
            await run(db.execute(SQL["set_meta"], (key, value)))

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def _join_worker(connection: aiosqlite.Connection) -> None:
    # When connecting fails, aiosqlite stops its worker thread without waiting
    # for it; if the loop closes first (a CLI exiting on the error) the thread
    # dies printing a traceback. Wait for it, so the user sees only our message.
    thread = getattr(connection, "_thread", None)
    if isinstance(thread, threading.Thread) and thread.is_alive():
        await asyncio.to_thread(thread.join, 5)
