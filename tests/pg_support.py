"""A PostgreSQL server for the tests: fresh stores on it, or a skip that says why.

The server is ``TOUCHFLOW_TEST_PG_URL`` (default: the one every machine of this
project runs, 127.0.0.1:5432, trust authentication, database ``test``). Each store
is a schema of its own in that database (``fresh_store_url``), dropped afterwards:
creating a schema takes ~6 ms here, a database ~200 ms. Where the server cannot
be reached the PostgreSQL tests skip, saying why; with ``TOUCHFLOW_REQUIRE_PG=1``
(``.ci/run`` sets it) they fail instead, so CI never passes by skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from urllib.parse import quote

import pytest

from touchflow.config.store import shown_location

SERVER_ENV = "TOUCHFLOW_TEST_PG_URL"
REQUIRE_ENV = "TOUCHFLOW_REQUIRE_PG"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get(SERVER_ENV, "").strip() or DEFAULT_SERVER


@cache
def unreachable() -> str | None:
    """Why no PostgreSQL test can run here, or None if they can."""
    try:
        import psycopg
    except ImportError:
        return "the PostgreSQL driver is not installed (pip install -e '.[test]')"
    try:
        with psycopg.connect(server_url(), connect_timeout=3) as db:
            db.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = shown_location(server_url())
        return f"no PostgreSQL server at {where} (set {SERVER_ENV} to use another): {first}"
    return None


def require_server() -> None:
    """Skip (or, where PostgreSQL is required, fail) unless the server answers."""
    why = unreachable()
    if why is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {why}", pytrace=False)
    pytest.skip(why)


@contextmanager
def fresh_store_url() -> Iterator[str]:
    """The URL of an empty store: a new schema on the test server (the URL's
    search_path), dropped with everything in it afterwards."""
    require_server()
    import psycopg

    schema = f"tf_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url(), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in server_url() else "?"
    try:
        yield f"{server_url()}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(server_url(), autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
