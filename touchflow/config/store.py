"""The ``store:`` key of touchflow.yaml: where the store is, as a path or a ``sqlite:///`` URL
(a SQLite file), or a ``postgresql://`` URL (a PostgreSQL database).

Read here, below every wing, so that touchflow.yaml refuses a location no store can
open at its line, and ``open_store`` reads a location with the same words. A
PostgreSQL password never comes from touchflow.yaml: libpq's environment
(``PGPASSWORD``, ``~/.pgpass``) gives it, or the whole URL comes from
``TOUCHFLOW_STORE_URL``, which wins over ``store:``. No message shows more of a URL
than ``shown_location`` does: scheme, host, port and database.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from touchflow.errors import StoreError

# scheme://rest, as RFC 3986 spells a scheme; anything else is a path.
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)", re.DOTALL)
_POSTGRESQL = ("postgresql", "postgres")
# Where the store is, over what touchflow.yaml says: a path or a URL, password and all.
STORE_URL_ENV = "TOUCHFLOW_STORE_URL"
# A SQLite file, or the URL of a PostgreSQL database.
StoreLocation = Path | str


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
    if _is_postgresql(scheme):
        raise StoreLocationError(scheme, "a PostgreSQL database, not a SQLite file")
    raise StoreLocationError(
        scheme,
        "a store is a SQLite file (a path, or sqlite:///path) or a PostgreSQL database "
        "(postgresql://user@host:port/database)",
    )


def _is_postgresql(scheme: str) -> bool:
    return scheme in _POSTGRESQL or scheme.startswith("postgresql+")


def postgresql_url(location: str | os.PathLike[str]) -> str | None:
    """The libpq URL of a PostgreSQL location (``postgres://`` and a SQLAlchemy-style
    ``postgresql+driver://`` written ``postgresql://``); None for a SQLite one."""
    if not isinstance(location, str):
        return None
    url = _URL.fullmatch(location.strip())
    if url is None or not _is_postgresql(url["scheme"].lower()):
        return None
    return f"postgresql://{url['rest']}"


def store_location(location: str | os.PathLike[str]) -> StoreLocation:
    """A location as ``open_store`` takes it: a PostgreSQL URL, else the SQLite file."""
    return postgresql_url(location) or sqlite_path(location)


def shown_location(location: StoreLocation) -> str:
    """Words for a location in a message: a path as it is; of a URL only its scheme,
    host, port and database (never a user's password, nor options)."""
    if isinstance(location, Path):
        return str(location)
    try:
        parts = urlsplit(location)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "postgresql://…"
    return f"postgresql://{host}{port}{parts.path}"


def has_password(url: str) -> bool:
    """Whether a PostgreSQL URL carries a password (in its user part or its options)."""
    try:
        parts = urlsplit(url)
        return bool(parts.password) or "password" in parse_qs(parts.query)
    except ValueError:
        return False


def read_store(value: object) -> StoreLocation:
    """``store:`` as touchflow.yaml holds it: the SQLite file's path or a PostgreSQL URL
    without a password, or ``ValueError``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected the path of a file, like .touchflow/store.sqlite3")
    try:
        location = store_location(value)
    except StoreLocationError as exc:
        raise ValueError(str(exc)) from None
    if isinstance(location, str) and has_password(location):
        raise ValueError(
            f"{shown_location(location)}: a password does not belong in touchflow.yaml; "
            f"leave it out and set PGPASSWORD (or use ~/.pgpass), or give the whole URL "
            f"in the environment variable {STORE_URL_ENV}"
        )
    return location


def location_in_environment(environ: Mapping[str, str], root: Path) -> StoreLocation | None:
    """``TOUCHFLOW_STORE_URL``'s location (a relative path is the project's), if set."""
    value = environ.get(STORE_URL_ENV, "").strip()
    if not value:
        return None
    location = store_location(value)
    if isinstance(location, Path) and not location.is_absolute():
        return root / location
    return location
