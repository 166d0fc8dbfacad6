"""``open_store``: the one way callers get a ``Store``, chosen by where it is.

A location is a path to a SQLite file (what ``ProjectConfig.store_file()`` gives for
touchflow.yaml's ``store:``) or a URL: ``sqlite:///relative/path`` or
``sqlite:////absolute/path`` name a SQLite file too (``config/store.py`` reads both).
A PostgreSQL URL is refused with words saying so: that store comes with a later
version, and nothing here pretends to be one.
"""

from __future__ import annotations

import os

from touchflow.config.store import StoreLocationError as StoreLocationError
from touchflow.config.store import sqlite_path
from touchflow.store.boundary import Store


async def open_store(location: str | os.PathLike[str]) -> Store:
    """Open (creating it if needed) the store at ``location``."""
    path = sqlite_path(location)
    # Imported when chosen: a PostgreSQL store will need a driver a SQLite user does
    # not install, and each implementation stays out of the others' way.
    from touchflow.store.sqlite import SqliteStore

    return await SqliteStore.open(path)
