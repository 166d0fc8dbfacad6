"""Where ``open_store`` looks: a path or a ``sqlite:///`` URL names a SQLite file; a
PostgreSQL URL is refused in words that say why and never repeat the URL's secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from touchflow.config.store import sqlite_path
from touchflow.errors import StoreError
from touchflow.store import StoreLocationError, open_store


@pytest.mark.parametrize(
    ("location", "path"),
    [
        pytest.param(Path("/srv/shop/store.sqlite3"), "/srv/shop/store.sqlite3", id="path"),
        pytest.param("/srv/shop/store.sqlite3", "/srv/shop/store.sqlite3", id="text"),
        pytest.param("state/store.db", "state/store.db", id="relative-text"),
        pytest.param("sqlite:///state/store.db", "state/store.db", id="url-relative"),
        pytest.param("sqlite:////srv/store.db", "/srv/store.db", id="url-absolute"),
        pytest.param("SQLite:///store.db", "store.db", id="scheme-any-case"),
    ],
)
def test_a_path_or_a_sqlite_url_names_a_sqlite_file(location: str | Path, path: str) -> None:
    assert sqlite_path(location) == Path(path)


@pytest.mark.parametrize(
    "location",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite://host/store.db",
        "sqlite:///:memory:",
        "sqlite:///a.db?mode=ro",
    ],
)
def test_a_sqlite_url_without_a_plain_file_path_is_refused(location: str) -> None:
    with pytest.raises(StoreLocationError, match=r"write the path of a file after sqlite:///"):
        sqlite_path(location)


@pytest.mark.parametrize(
    "location",
    [
        "postgresql://touchflow:s3cret@db.internal:5432/shop",
        "postgres://touchflow:s3cret@db.internal/shop",
        "postgresql+asyncpg://touchflow:s3cret@db.internal/shop",
    ],
)
async def test_postgresql_is_refused_as_coming_later_without_repeating_the_url(
    location: str,
) -> None:
    with pytest.raises(StoreError) as refused:
        await open_store(location)
    assert isinstance(refused.value, StoreLocationError)
    message = str(refused.value)
    assert "a PostgreSQL store comes with a later touchflow version" in message
    assert "s3cret" not in message and "db.internal" not in message


def test_an_unknown_kind_of_store_is_refused() -> None:
    with pytest.raises(
        StoreLocationError, match=r"cannot open store mysql://…: a store is a SQLite"
    ):
        sqlite_path("mysql://root@localhost/shop")
