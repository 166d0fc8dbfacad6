"""The store's lookups and deletions behind `touchflow customers|events|suppressions|sample`."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from touchflow.models import Customer, Event, Suppression, SuppressionScope
from touchflow.store.sqlite import SqliteStore

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ALL = SuppressionScope.ALL
MARKETING = SuppressionScope.MARKETING


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(tmp_path / "store.db") as opened:
        people = [Customer(id=f"c-{n:02d}", email=f"P{n}@Example.com") for n in range(1, 6)]
        await opened.upsert_customers(people)
        orders = [Event(id=f"e-{n}", type="order", customer_id="c-01", at=T0 + timedelta(days=n))
                  for n in range(3)]  # fmt: skip
        await opened.add_events([*orders, Event(id="x", type="order", customer_id="c-02", at=T0)])
        yield opened


def _count(store: SqliteStore, sql: str) -> int:
    with sqlite3.connect(store.path) as db:
        return int(db.execute(sql).fetchone()[0])


async def test_customers_come_a_page_at_a_time_by_id_and_by_address(store: SqliteStore) -> None:
    first = await store.list_customers(limit=2)
    assert [c.id for c in first] == ["c-01", "c-02"]
    nxt = await store.list_customers(after=first[-1].id, limit=2)
    assert [c.id for c in nxt] == ["c-03", "c-04"]
    assert [c.id for c in await store.list_customers(limit=9, email=" p3@EXAMPLE.com")] == ["c-03"]


async def test_a_customers_events_come_newest_first_with_their_count(store: SqliteStore) -> None:
    events, count = await store.customer_events("c-01", limit=2)
    assert ([e.id for e in events], count) == (["e-2", "e-1"], 3)
    assert await store.customer_events("nobody") == ([], 0)


async def test_removing_a_suppression_lifts_plain_and_hashed_and_marks_the_customer_changed(
    store: SqliteStore,
) -> None:
    await store.add_suppression(Suppression(email="p1@example.com", scope=ALL, created_at=T0))
    await store.add_suppression(Suppression(email="p1@example.com", scope=MARKETING))
    await store.add_suppression(Suppression(email="p2@example.com", scope=ALL))
    shown = await store.list_suppressions(email="P1@example.com")
    assert {s.scope for s in shown} == {ALL, MARKETING}
    assert len(await store.list_suppressions()) == 3
    await store.drop_changes((await store.pending_changes(limit=100))[0])
    assert await store.remove_suppressions("P1@Example.com", [ALL]) == 1
    assert [s.scope for s in await store.list_suppressions(email="p1@example.com")] == [MARKETING]
    assert (await store.pending_changes(limit=100))[1] == {"c-01"}  # the daemon re-plans it
    assert await store.remove_suppressions("p1@example.com", [ALL]) == 0


async def test_deleting_customers_takes_everything_of_theirs_and_nothing_else(
    store: SqliteStore,
) -> None:
    await store.add_suppression(Suppression(email="p1@example.com", scope=MARKETING))
    await store.add_suppression(Suppression(email="p2@example.com", scope=MARKETING))
    gone = await store.delete_customers(
        ["c-01", "c-02"], [Suppression(email="P1@example.com", scope=MARKETING)]
    )
    assert (gone.customers, gone.events, gone.suppressions) == (2, 4, 1)
    assert await store.existing_customer_ids(["c-01", "c-02", "c-03"]) == {"c-03"}
    assert [s.email for s in await store.list_suppressions()] == ["p2@example.com"]
    assert _count(store, "SELECT COUNT(*) FROM changes WHERE customer_id IN ('c-01', 'c-02')") == 0
    assert _count(store, "SELECT COUNT(*) FROM events") == 0
