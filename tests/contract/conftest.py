"""The ``store`` every contract test runs over: one parameter per ``Store`` implementation.

Each implementation has a fixture giving the location of a fresh, empty store of
its kind; ``store`` opens it through ``open_store``, as every caller does, so a
test here pins what the boundary promises, never how one implementation keeps
it. A second implementation (PostgreSQL, issue 16) is its own ``*_location``
fixture (a fresh, empty store of its kind, dropped afterwards) and one more
``pytest.param`` below: PostgreSQL's is a schema of its own on the test server
(``pg_support``), skipped, saying why, where there is none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pg_support import fresh_store_url

from touchflow.store import Store, open_store


@pytest.fixture
def sqlite_location(tmp_path: Path) -> str:
    """A SQLite file that is not there yet (its directory neither): opening creates both."""
    return str(tmp_path / "state" / "touchflow.db")


@pytest.fixture
def postgres_location() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema: opening creates the store."""
    with fresh_store_url() as url:
        yield url


@pytest.fixture(
    params=[
        pytest.param("sqlite_location", id="sqlite"),
        pytest.param("postgres_location", id="postgresql"),
    ]
)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    location: str = request.getfixturevalue(request.param)
    async with await open_store(location) as opened:
        yield opened
