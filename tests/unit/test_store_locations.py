"""Where ``open_store`` looks: a path or a ``sqlite:///`` URL names a SQLite file; a
``postgresql://`` URL a PostgreSQL database, in messages that never repeat its password."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from touchflow.config.store import postgresql_url, shown_location, sqlite_path
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
    ("location", "url"),
    [
        (
            "postgresql://touchflow@db.internal:5432/shop",
            "postgresql://touchflow@db.internal:5432/shop",
        ),
        ("postgres://db.internal/shop", "postgresql://db.internal/shop"),
        ("postgresql+asyncpg://db.internal/shop", "postgresql://db.internal/shop"),
        ("PostgreSQL://db.internal/shop", "postgresql://db.internal/shop"),
    ],
)
def test_a_postgresql_url_is_read_as_libpq_spells_it(location: str, url: str) -> None:
    assert postgresql_url(location) == url
    with pytest.raises(StoreLocationError, match=r"a PostgreSQL database, not a SQLite file"):
        sqlite_path(location)


def test_a_path_is_no_postgresql_url() -> None:
    assert postgresql_url("state/store.db") is None
    assert postgresql_url(Path("postgresql://x")) is None


@pytest.mark.parametrize(
    "location",
    [
        "postgresql://touchflow:s3cret@127.0.0.1:1/shop",
        "postgresql://touchflow@127.0.0.1:1/shop?password=s3cret",
    ],
)
async def test_a_postgresql_store_that_cannot_be_reached_names_its_host_never_its_password(
    location: str,
) -> None:
    with pytest.raises(StoreError) as refused:
        await open_store(location)
    message = str(refused.value)
    assert message.startswith("cannot open store postgresql://127.0.0.1:1/shop: ")
    assert "s3cret" not in message and "touchflow@" not in message


async def test_without_the_driver_a_postgresql_url_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A module set to None in sys.modules cannot be imported: as if not installed.
    monkeypatch.setitem(sys.modules, "touchflow.store.postgres", None)
    with pytest.raises(StoreLocationError, match=r"pip install 'touchflow\[postgresql\]'"):
        await open_store("postgresql://db.internal/shop")


def test_a_location_is_shown_without_user_password_or_options() -> None:
    shown = shown_location("postgresql://u:s3cret@db:6432/shop?sslmode=require")
    assert shown == "postgresql://db:6432/shop"
    assert shown_location(Path("/srv/store.db")) == "/srv/store.db"


def test_an_unknown_kind_of_store_is_refused() -> None:
    with pytest.raises(
        StoreLocationError, match=r"cannot open store mysql://…: a store is a SQLite"
    ):
        sqlite_path("mysql://root@localhost/shop")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://shop:s3cr%zzet@127.0.0.1/shop",  # a bad percent-escape in the password
        "postgresql://shop:s3cret@[::1/shop",  # an IPv6 host left open
        "postgresql://shop:s3cret@127.0.0.1:1/shop",  # nothing listens: libpq's own words
    ],
    ids=["bad-escape", "open-bracket", "refused"],
)
async def test_a_postgresql_url_that_cannot_be_opened_never_shows_its_password(url: str) -> None:
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is an extra")
    with pytest.raises(StoreError) as raised:
        await open_store(url)
    assert "s3cr" not in str(raised.value)
    assert str(raised.value).startswith("cannot open store postgresql://")
