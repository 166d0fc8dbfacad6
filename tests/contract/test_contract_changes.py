"""What every store promises about changes: every write that changes a customer's facts
is seen by the daemon (whoever wrote it), once per customer, and forgotten only once seen.

Deletions, erasure, lifted suppressions and re-queues are pinned beside those writes
(test_contract_records.py, test_contract_outbox.py)."""

from __future__ import annotations

import dataclasses

from store_support import NOW, forget_changes

from touchflow.models import Customer, Event, Suppression, SuppressionScope
from touchflow.store import Store


async def changed(store: Store) -> set[str] | None:
    """Who changed: the ids ``pending_changes`` names. Its seq is the store's own business:
    the tests compare seqs with each other, never with a number."""
    last, ids = await store.pending_changes(limit=10)
    assert last > 0 or ids == set()
    return ids


async def test_inserting_and_updating_customers_records_changes(store: Store) -> None:
    await store.upsert_customers([Customer(id="c1"), Customer(id="c2")])
    await store.upsert_customers([Customer(id="c1", first_name="Ana")])
    assert await changed(store) == {"c1", "c2"}


async def test_a_new_event_records_a_change_and_a_duplicate_does_not(store: Store) -> None:
    first = Event(id="e1", type="order", customer_id="c9", at=NOW)
    assert await store.add_events([first]) == (1, 0)
    assert await store.add_events([first, dataclasses.replace(first, id="e2")]) == (1, 1)
    assert await changed(store) == {"c9"}


async def test_a_suppression_records_a_change_for_every_customer_with_that_email(
    store: Store,
) -> None:
    await store.upsert_customers(
        [
            Customer(id="c1", email="Ana@Example.com"),
            Customer(id="c2", email="ana@example.com"),
            Customer(id="c3", email="bob@example.com"),
            Customer(id="c4"),
        ]
    )
    await forget_changes(store)
    await store.add_suppression(
        Suppression(email=" ANA@example.COM ", scope=SuppressionScope.MARKETING)
    )
    assert await changed(store) == {"c1", "c2"}


async def test_pending_changes_names_each_changed_customer_once(store: Store) -> None:
    assert await store.pending_changes(limit=10) == (0, set())
    await store.upsert_customers([Customer(id="c1"), Customer(id="c2")])
    await store.add_events([Event(id="e1", type="order", customer_id="c1", at=NOW)])
    last, ids = await store.pending_changes(limit=2)
    assert last > 0
    assert ids == {"c1", "c2"}


async def test_pending_changes_says_plan_everyone_when_more_than_the_limit_changed(
    store: Store,
) -> None:
    await store.upsert_customers([Customer(id=f"c{i}") for i in range(3)])
    last, ids = await store.pending_changes(limit=2)
    assert last > 0
    assert ids is None


async def test_drop_changes_forgets_only_what_was_seen(store: Store) -> None:
    await store.upsert_customers([Customer(id="c1"), Customer(id="c2")])
    seen, _ = await store.pending_changes(limit=10)
    await store.upsert_customers([Customer(id="c3")])  # arrives while planning
    await store.drop_changes(seen)
    later, ids = await store.pending_changes(limit=10)
    assert later > seen
    assert ids == {"c3"}
    await store.drop_changes(later)
    assert await store.pending_changes(limit=10) == (0, set())


async def test_reimporting_an_unchanged_customer_records_no_change(store: Store) -> None:
    ana = Customer(id="c1", email="ana@example.com", first_name="Ana")
    await store.upsert_customers([ana])
    first, _ = await store.pending_changes(limit=10)
    await store.upsert_customers([ana])  # a nightly full re-import
    assert await store.pending_changes(limit=10) == (first, {"c1"})
    await store.upsert_customers([Customer(id="c1", email="ana@example.com", first_name="Anna")])
    second, ids = await store.pending_changes(limit=10)
    assert second > first
    assert ids == {"c1"}
