"""``open_store``: the one way callers get a ``Store``, chosen by where it is.

A location is a path to a SQLite file (what ``ProjectConfig.store_location()`` gives
for a file), ``sqlite:///relative/path`` or ``sqlite:////absolute/path`` (a SQLite
file too), or ``postgresql://user@host:port/database`` (a PostgreSQL database; its
driver is the ``touchflow[postgresql]`` extra). ``config/store.py`` reads them all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from touchflow.config.store import StoreLocationError as StoreLocationError
from touchflow.config.store import postgresql_url, sqlite_path
from touchflow.store.boundary import Store


async def open_store(location: str | os.PathLike[str], *, read_only: bool = False) -> Store:
    """Open (creating it, or its schema, if needed) the store at ``location``;
    ``read_only``: as it is, on connections that cannot write (`touchflow console`)."""
    # Each implementation is imported when chosen: the PostgreSQL one needs a driver a
    # SQLite user does not install.
    url = postgresql_url(location)
    if url is None:
        from touchflow.store.sqlite import SqliteStore

        return await SqliteStore.open(sqlite_path(location), read_only=read_only)
    _driver()
    from touchflow.store.postgres import PostgresStore

    return await PostgresStore.open(url, read_only=read_only)


async def migrate_store(location: str | os.PathLike[str]) -> tuple[int | None, int]:
    """Create or upgrade the store's schema (what opening it does), and say how: the
    version before (0: there was no store; None: not known) and after."""
    url = postgresql_url(location)
    if url is None:
        async with await open_store(location) as store:
            return None, int(await store.get_meta("schema_version") or 0)
    _driver()
    from touchflow.store.postgres import PostgresStore

    return await PostgresStore.migrate(url)


async def schema_versions(location: str | os.PathLike[str]) -> tuple[int | None, int]:
    """The store's schema version as it is (None: no store there yet) and the one this
    touchflow reads, found without creating, upgrading or locking anything (for
    `touchflow console`, which changes nothing)."""
    url = postgresql_url(location)
    if url is None:
        from touchflow.store.sqlite.store import SCHEMA_VERSION, read_version

        return await read_version(sqlite_path(location)), int(SCHEMA_VERSION)
    _driver()
    from touchflow.store.postgres import SCHEMA_VERSION as PG_VERSION
    from touchflow.store.postgres import PostgresStore

    return await PostgresStore.version(url), PG_VERSION


async def drop_store(location: str | os.PathLike[str]) -> None:
    """Delete the store at ``location`` with everything in it: a SQLite file (and its
    WAL files), or a PostgreSQL store's tables (the database itself stays)."""
    url = postgresql_url(location)
    if url is None:
        path = sqlite_path(location)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    _driver()
    from touchflow.store.postgres import PostgresStore

    await PostgresStore.drop(url)


def _driver() -> None:
    """Import the PostgreSQL store, or say which extra brings its driver."""
    try:
        import touchflow.store.postgres  # noqa: F401
    except ImportError as exc:
        raise StoreLocationError(
            "postgresql",
            f"its driver is not installed ({exc.name}): pip install 'touchflow[postgresql]'",
        ) from None


class WriterLock(Protocol):
    """A store's daemon lock where the store itself keeps it (PostgreSQL)."""

    def try_acquire(self) -> tuple[str, str] | None:
        """None if taken now; else ``(pid, holder)`` of whoever has it ("" if unknown)."""
        ...

    def lead(self) -> bool:
        """A daemon's: whether it is the one that plans (kept, or taken if free)."""
        ...

    def release(self) -> None: ...


def writer_lock(url: str, holder: str, *, instance: str | None = None) -> WriterLock:
    """The lock of the PostgreSQL store at ``url``: a daemon (``instance`` given) shares
    it with other daemons; a command holds it alone."""
    _driver()
    from touchflow.store.postgres.lock import AdvisoryLock

    return AdvisoryLock(url, holder, instance=instance)
