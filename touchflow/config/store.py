"""The ``store:`` key of touchflow.yaml: where the store is, as a path or a ``sqlite:///`` URL.

Read here, below every wing, so that touchflow.yaml refuses a location no store can
open at its line, and ``open_store`` reads a location with the same words.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from touchflow.errors import StoreError

# scheme://rest, as RFC 3986 spells a scheme; anything else is a path.
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)", re.DOTALL)
_POSTGRESQL = ("postgresql", "postgres")


class StoreLocationError(StoreError):
    """A store location this touchflow cannot open: it names only the kind, never the rest
    (a database URL may carry a password)."""

    def __init__(self, scheme: str, why: str) -> None:
        self.scheme = scheme
        super().__init__(f"cannot open store {scheme}://…: {why}")


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


def read_store(value: object) -> Path:
    """``store:`` as touchflow.yaml holds it: the SQLite file's path, or ``ValueError``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected the path of a file, like .touchflow/store.sqlite3")
    try:
        return sqlite_path(value)
    except StoreLocationError as exc:
        raise ValueError(str(exc)) from None
