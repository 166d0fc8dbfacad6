"""What every store promises behind `touchflow store copy`: a whole store read at one
moment a page at a time, and rows written as they are (every column, no change of their
own) in one transaction that keeps everything or nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from store_support import CLAIMED, FAILED, PENDING, RETRY, SENT, forget_changes, outbox_row

from touchflow.errors import StoreError
from touchflow.models import Customer, Event, Suppression, SuppressionScope
from touchflow.store import Store, hashed_address, open_store

T0 = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)
ALL, MARKETING = SuppressionScope.ALL, SuppressionScope.MARKETING

CUSTOMERS = [
    Customer(
        id="c1", email="Ana@Example.com", phone="+34 600", first_name="Ana", last_name="Ruiz",
        timezone="Europe/Madrid", locale="es", country="ES", birthday=date(1990, 2, 28),
        customer_since=date(2020, 1, 5), consent_marketing=True,
        attributes={"tier": "gold", "visits": 3, "tags": ["a", "b"]}, created_at=T0,
    ),
    Customer(id="c2", email=None, created_at=None),
    Customer(id="c3", email="ben@example.com", created_at=T0 + timedelta(seconds=1)),
]  # fmt: skip
EVENTS = [
    Event(id="e1", type="order", customer_id="c1", at=T0, data={"total": 12.5},
          recorded_at=T0 + timedelta(seconds=3)),
    Event(id="e2", type="order", customer_id="c1", at=T0 - timedelta(days=3), recorded_at=None),
    Event(id="e3", type="inquiry", customer_id="gone", at=T0, data={"subject": "ü"},
          recorded_at=T0),
]  # fmt: skip
SUPPRESSIONS = [
    Suppression(email="ana@example.com", scope=ALL, reason="bounce", created_at=T0),
    Suppression(email="ana@example.com", scope=MARKETING, reason=None, created_at=None),
    Suppression(email=hashed_address("erased@example.com"), scope=ALL, created_at=T0),
]
OUTBOX = [
    outbox_row("k-claimed", CLAIMED, customer_id="c1", claim_owner="host:42",
               claim_expires_at=T0 + timedelta(minutes=5), attempts=1,
               created_at=T0, updated_at=T0, channel="webhook", to=None),
    outbox_row("k-failed", FAILED, customer_id="gone", attempts=3, reason="bad_mailbox",
               last_error="550 no such user", message_id="<k-failed@example.com>",
               created_at=T0, updated_at=T0 + timedelta(hours=1)),
    outbox_row("k-pending", PENDING, customer_id="c3", to=None, created_at=T0, updated_at=T0),
    outbox_row("k-retry", RETRY, customer_id="c1", attempts=2, reason="temporary",
               next_attempt_at=T0 + timedelta(minutes=30), created_at=T0, updated_at=T0),
    outbox_row("k-sent", SENT, customer_id="c1", attempts=1, counts_for_caps=False,
               message_id="<k-sent@example.com>", sent_at=T0 + timedelta(seconds=2),
               created_at=T0, updated_at=T0 + timedelta(seconds=2)),
]  # fmt: skip


async def put_all(store: Store) -> None:
    async with store.write_history() as write:
        await write.put_customers(CUSTOMERS)
        await write.put_events(EVENTS)
        await write.put_suppressions(SUPPRESSIONS)
        await write.put_outbox(OUTBOX)
        await write.put_changed(["c3", "gone"])
        await write.put_meta({"daemon_planned_until": T0.isoformat()})


async def read_all(store: Store, page: int) -> dict[str, list[object]]:
    """Every page of every table, ``page`` rows at a time."""
    found: dict[str, list[object]] = {}
    async with store.read_history() as read:
        found["customers"] = await _paged(read.customers, lambda c: c.id, "", page)
        found["events"] = await _paged(read.events, lambda e: e.id, "", page)
        found["suppressions"] = await _paged(
            read.suppressions, lambda s: (s.email, s.scope.value), ("", ""), page
        )
        found["outbox"] = await _paged(read.outbox, lambda r: r.key, "", page)
        found["changed"] = await _paged(read.changed, lambda i: i, "", page)
        found["meta"] = [await read.meta()]
    return found


async def _paged(read: object, key: object, after: object, page: int) -> list[object]:
    rows: list[object] = []
    while batch := await read(after, page):  # type: ignore[operator]
        rows.extend(batch)
        after = key(batch[-1])  # type: ignore[operator]
    return rows


@pytest.fixture
async def copied(store: Store) -> Store:
    await put_all(store)
    return store


@pytest.mark.parametrize("page", [1, 2, 500])
async def test_rows_written_as_they_are_come_back_whole_in_key_order(
    copied: Store, page: int
) -> None:
    found = await read_all(copied, page)
    assert found["customers"] == CUSTOMERS
    assert found["events"] == sorted(EVENTS, key=lambda e: e.id)
    assert found["suppressions"] == sorted(SUPPRESSIONS, key=lambda s: (s.email, s.scope.value))
    assert found["outbox"] == OUTBOX
    assert found["changed"] == ["c3", "gone"]
    assert found["meta"] == [{"daemon_planned_until": T0.isoformat()}]


async def test_what_was_written_as_it_is_is_what_the_rest_of_the_store_reads(
    copied: Store,
) -> None:
    assert await copied.list_outbox() == sorted(OUTBOX, key=lambda r: (r.due_at, r.key))
    assert await copied.list_customers(limit=10) == CUSTOMERS
    assert await copied.get_meta("daemon_planned_until") == T0.isoformat()
    assert await copied.last_sent_at() == T0 + timedelta(seconds=2)
    # The claim is a claim: not claimed again until it is taken back.
    claimed = await copied.claim_due(owner="w", now=T0, ttl=timedelta(hours=1), limit=9)
    assert [r.key for r in claimed] == ["k-pending"]
    (back,) = await copied.reclaim(now=T0 + timedelta(minutes=6))
    assert (back.key, back.claim_owner, back.channel) == ("k-claimed", "host:42", "webhook")


async def test_rows_written_as_they_are_record_no_change_only_those_put_changed(
    copied: Store,
) -> None:
    assert (await copied.pending_changes(limit=100))[1] == {"c3", "gone"}


async def test_counts_are_rows_per_table_and_customers_to_re_plan_each_once(
    copied: Store,
) -> None:
    await copied.upsert_customers([dataclasses.replace(CUSTOMERS[2], first_name="Ben")])
    async with copied.read_history() as read:
        counts = await read.counts()
    expected = {"customers": 3, "events": 3, "suppressions": 3, "outbox": 5, "changes": 2}
    assert counts == expected  # c3 changed twice: once


async def test_meta_leaves_out_the_stores_own_and_refuses_to_write_it(copied: Store) -> None:
    async with copied.read_history() as read:
        assert "schema_version" not in await read.meta()
    with pytest.raises(ValueError, match="schema_version"):
        async with copied.write_history() as write:
            await write.put_meta({"schema_version": "99"})
    assert await copied.get_meta("schema_version") not in (None, "99")


async def test_clear_deletes_every_row_and_the_meta_but_the_stores_own(copied: Store) -> None:
    version = await copied.get_meta("schema_version")
    async with copied.write_history() as write:
        await write.clear()
        assert set((await write.counts()).values()) == {0}
    assert await read_all(copied, 10) == {
        "customers": [], "events": [], "suppressions": [], "outbox": [], "changed": [],
        "meta": [{}],
    }  # fmt: skip
    assert await copied.get_meta("schema_version") == version


async def test_a_write_that_raises_keeps_nothing_of_it(copied: Store) -> None:
    before = await read_all(copied, 10)
    with pytest.raises(RuntimeError):
        async with copied.write_history() as write:
            await write.clear()
            await write.put_customers([Customer(id="other")])
            raise RuntimeError("stopped half-way")
    assert await read_all(copied, 10) == before


async def test_a_key_already_there_fails_the_write_and_keeps_nothing_of_it(
    copied: Store,
) -> None:
    before = await read_all(copied, 10)
    with pytest.raises(StoreError):
        async with copied.write_history() as write:
            await write.put_customers([Customer(id="new")])
            await write.put_outbox(OUTBOX[:1])
    assert await read_all(copied, 10) == before


@pytest.fixture
async def second(store: Store) -> AsyncIterator[Store]:
    """Another connection to the same store, as another process would have."""
    async with await open_store(store.location) as other:
        yield other


async def test_a_read_sees_one_moment_whatever_is_written_meanwhile(
    copied: Store, second: Store
) -> None:
    await forget_changes(copied)
    async with copied.read_history() as read:
        first = await read.customers("", 1)
        await second.upsert_customers([Customer(id="c0"), Customer(id="c9")])
        await second.write_plan([outbox_row("k-new", customer_id="c9")], [], now=T0)
        rest = await read.customers(first[-1].id, 10)
        assert [c.id for c in first + rest] == ["c1", "c2", "c3"]
        assert [r.key for r in await read.outbox("", 10)] == [r.key for r in OUTBOX]
        assert await read.changed("", 10) == []
    assert await second.customer_count() == 5
