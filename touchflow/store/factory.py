"""``open_store``: the one way callers get a ``Store``, chosen by where it is.

A location is a path to a SQLite file (what ``ProjectConfig.store_location()`` gives
for a file), ``sqlite:///relative/path`` or ``sqlite:////absolute/path`` (a SQLite
file too), or ``postgresql://user@host:port/database`` (a PostgreSQL database; its
driver is the ``touchflow[postgresql]`` extra). ``config/store.py`` reads them all.
"""

from __future__ import annotations

import os

from touchflow.config.store import StoreLocationError as StoreLocationError
from touchflow.config.store import postgresql_url, sqlite_path
from touchflow.store.boundary import Store


async def open_store(location: str | os.PathLike[str]) -> Store:
    """Open (creating it, or its schema, if needed) the store at ``location``."""
    # Each implementation is imported when chosen: the PostgreSQL one needs a driver a
    # SQLite user does not install.
    url = postgresql_url(location)
    if url is None:
        from touchflow.store.sqlite import SqliteStore

        return await SqliteStore.open(sqlite_path(location))
    try:
        from touchflow.store.postgres import PostgresStore
    except ImportError as exc:
        raise StoreLocationError(
            "postgresql",
            f"its driver is not installed ({exc.name}): pip install 'touchflow[postgresql]'",
        ) from None
    return await PostgresStore.open(url)
