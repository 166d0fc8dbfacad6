"""A stored row no one could read (written by hand or by a bug) holds its customer only:
the store reads everyone else, and says what is wrong with that one."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from touchflow.models import Customer, Event
from touchflow.store.sqlite import SqliteStore

AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(tmp_path / "touchflow.db") as opened:
        await opened.upsert_customers(
            [Customer(id=f"c{i}", email=f"c{i}@x.example") for i in (1, 2, 3)]
        )
        await opened.add_events(
            [Event(id=f"e{i}", type="signed_up", customer_id=f"c{i}", at=AT) for i in (1, 2, 3)]
        )
        yield opened


def _corrupt(store: SqliteStore, sql: str) -> None:
    with sqlite3.connect(store.path) as db:  # past every check touchflow makes
        db.execute(sql)


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("UPDATE events SET data = 'not json' WHERE id = 'e2'", "event e2 is stored unreadable"),
        ("UPDATE events SET at = 'yesterday' WHERE id = 'e2'", "event e2 is stored unreadable"),
        ("UPDATE customers SET birthday = '1990-02-30' WHERE id = 'c2'", "customer c2 is stored"),
        ("UPDATE customers SET attributes = '[1' WHERE id = 'c2'", "customer c2 is stored"),
    ],
)
async def test_one_unreadable_row_marks_its_customer_and_everyone_else_is_read(
    store: SqliteStore, sql: str, words: str
) -> None:
    _corrupt(store, sql)
    for facts in (
        await store.load_facts(),
        await store.facts_page("", 10, None),
        [f async for page in store.facts_pages(page_size=2) for f in page],
    ):
        by_id = {f.customer.id: f for f in facts}
        assert sorted(by_id) == ["c1", "c2", "c3"]
        assert by_id["c1"].unreadable is None and by_id["c3"].unreadable is None
        assert [e.id for e in by_id["c3"].events] == ["e3"]
        unreadable = by_id["c2"].unreadable
        assert unreadable is not None and unreadable.startswith(words), unreadable
