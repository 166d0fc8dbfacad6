"""Settings for the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings
from pg_support import fresh_store_url

# On a developer's machine property tests draw new examples each run (and replay the
# failures they found, from .hypothesis/); in CI they draw the same examples every time,
# so a red CI is caused by the change it tests, never by the luck of the draw. A failure
# found locally is pinned as a named test before it is fixed (test_compose_bytes.py has one).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def url() -> Iterator[str]:
    """The URL of an empty PostgreSQL store of the test's own (a schema, dropped after),
    or a skip saying why there is none (tests/pg_support.py)."""
    with fresh_store_url() as fresh:
        yield fresh
