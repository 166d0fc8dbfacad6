"""``open_store``: the one way callers get a ``Store``, chosen by where it is.

A location is a path to a SQLite file (``touchflow.yaml``'s ``store:``, resolved
against the project) or a URL: ``sqlite:///relative/path`` or
``sqlite:////absolute/path`` name a SQLite file too. A PostgreSQL URL is refused
with words saying so: that store comes with a later version, and nothing here
pretends to be one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from touchflow.errors import StoreError
from touchflow.store.boundary import Store

# scheme://rest, as RFC 3986 spells a scheme; anything else is a path.
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)", re.DOTALL)
_POSTGRESQL = ("postgresql", "postgres")


class StoreLocationError(StoreError):
    """A store location this touchflow cannot open: it names only the kind, never the rest
    (a database URL may carry a password)."""

    def __init__(self, scheme: str, why: str) -> None:
        self.scheme = scheme
        super().__init__(f"cannot open store {scheme}://…: {why}")


async def open_store(location: str | os.PathLike[str]) -> Store:
    """Open (creating it if needed) the store at ``location``."""
    path = sqlite_path(location)
    # Imported when chosen: a PostgreSQL store will need a driver a SQLite user does
    # not install, and each implementation stays out of the others' way.
    from touchflow.store.sqlite import SqliteStore

    return await SqliteStore.open(path)


def sqlite_path(location: str | os.PathLike[str]) -> Path:
    """The SQLite file a location names, or ``StoreLocationError`` saying why it names none."""
    if not isinstance(location, str):
        return Path(location)
    url = _URL.fullmatch(location)
    if url is None:
        return Path(location)
    scheme = url["scheme"].lower()
    if scheme == "sqlite":
        # sqlite:///a/b is the relative path a/b; sqlite:////a/b the absolute /a/b.
        rest = url["rest"]
        path = rest[1:]
        if not rest.startswith("/") or not path or "?" in path or path == ":memory:":
            raise StoreLocationError(scheme, "write the path of a file after sqlite:///")
        return Path(path)
    if scheme in _POSTGRESQL or scheme.startswith("postgresql+"):
        raise StoreLocationError(
            scheme,
            "a PostgreSQL store comes with a later touchflow version; this one keeps its "
            "store in a SQLite file (a path, or sqlite:///path)",
        )
    raise StoreLocationError(scheme, "a store is a SQLite file: a path, or sqlite:///path")
