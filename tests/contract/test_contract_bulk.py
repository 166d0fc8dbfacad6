"""What every store promises about ``bulk_write``: many writes in one transaction, stored
together when the block ends, none if it raises, and seen by no one before."""

from __future__ import annotations

import pytest
from store_support import event

from touchflow.models import Customer
from touchflow.store import CustomersWrite, Store, open_store


class Stop(Exception):
    """What an importer raises inside the block when the file had a problem."""


async def test_every_chunk_is_stored_when_the_block_ends(store: Store) -> None:
    await store.upsert_customers([Customer(id="c1"), Customer(id="c2", first_name="Bo")])
    async with store.bulk_write() as bulk:
        first = await bulk.upsert_customers([Customer(id="c1"), Customer(id="c3")])
        second = await bulk.upsert_customers([Customer(id="c2", first_name="Bea")])
        events = await bulk.add_events_checked([event("e1", "c3", "2026-01-01T10:00:00+00:00")])
    assert first == CustomersWrite(new=1, updated=0, unchanged=1)
    assert second == CustomersWrite(new=0, updated=1, unchanged=0)
    assert events.inserted == {"e1"} and not events.unknown_customers
    assert await store.customer_count() == 3
    stored = await store.get_customer("c2")
    assert stored is not None and stored.first_name == "Bea"
    assert (await store.customer_events("c3"))[1] == 1


async def test_a_block_that_raises_stores_nothing(store: Store) -> None:
    await store.upsert_customers([Customer(id="c1", first_name="Ann")])
    progress: list[int] = []
    with pytest.raises(Stop):
        async with store.bulk_write() as bulk:
            await bulk.upsert_customers(
                [Customer(id="c1", first_name="Anna"), Customer(id="c2")], progress=progress.append
            )
            await bulk.add_events_checked([event("e1", "c2", "2026-01-01T10:00:00+00:00")])
            raise Stop
    assert progress == [2]
    assert await store.customer_count() == 1
    stored = await store.get_customer("c1")
    assert stored is not None and stored.first_name == "Ann"
    assert await store.customer_events("c2") == ([], 0)
    # The store writes again afterwards: the failed block left no transaction open.
    await store.upsert_customers([Customer(id="c3")])
    assert await store.customer_count() == 2


async def test_another_connection_sees_nothing_until_the_block_ends(store: Store) -> None:
    async with await open_store(store.location) as other:
        async with store.bulk_write() as bulk:
            await bulk.upsert_customers([Customer(id="c1")])
            await bulk.upsert_customers([Customer(id="c2")])
            assert await other.customer_count() == 0
            assert await other.get_customer("c1") is None
        assert await other.customer_count() == 2


async def test_events_are_checked_against_what_the_block_wrote(store: Store) -> None:
    async with store.bulk_write() as bulk:
        await bulk.upsert_customers([Customer(id="c1")])
        # The customer written by this block counts as stored.
        first = await bulk.add_events_checked([event("e1", "c1", "2026-01-01T10:00:00+00:00")])
        again = await bulk.add_events_checked(
            [
                event("e1", "c1", "2026-01-01T10:00:00+00:00"),
                event("e2", "c1", "2026-01-02T10:00:00+00:00"),
            ]
        )
        # One event refused: none of this call is written, the block goes on.
        refused = await bulk.add_events_checked(
            [
                event("e3", "c1", "2026-01-03T10:00:00+00:00"),
                event("e4", "nobody", "2026-01-03T10:00:00+00:00"),
                event("e1", "c1", "2026-01-05T10:00:00+00:00"),
            ]
        )
    assert first.inserted == {"e1"}
    assert again.inserted == {"e2"} and again.duplicates == {"e1"}
    assert refused.unknown_customers == ("nobody",) and refused.conflicts == ("e1",)
    assert not refused.inserted
    events, count = await store.customer_events("c1")
    assert count == 2 and {e.id for e in events} == {"e1", "e2"}


async def test_a_block_that_writes_nothing_changes_nothing(store: Store) -> None:
    async with store.bulk_write():
        pass
    with pytest.raises(Stop):
        async with store.bulk_write():
            raise Stop
    assert await store.customer_count() == 0
