"""What every store promises about customers, events, suppressions and meta as they are
written: upserts, idempotent events, checked events, suppressions, all or nothing."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from store_support import at, event

from touchflow.models import Customer, Suppression, SuppressionScope
from touchflow.store import CustomersWrite, Store

CET = timezone(timedelta(hours=1))

# --- customers ------------------------------------------------------------------------


def _fields(customer: Customer) -> dict[str, object]:
    return {name: getattr(customer, name) for name in Customer.__dataclass_fields__}


async def test_upsert_replaces_the_whole_row(store: Store) -> None:
    first = Customer(
        id="c1",
        email="ann@example.com",
        first_name="Ann",
        timezone="Europe/Berlin",
        birthday=date(1990, 2, 28),
        customer_since=date(2020, 6, 1),
        consent_marketing=True,
        attributes={"tier": "gold", "since": date(2024, 1, 2)},
    )
    assert await store.upsert_customers([first, Customer(id="c2")]) == CustomersWrite(
        new=2, updated=0, unchanged=0
    )
    stored = await store.get_customer("c1")
    # Declared dates in attributes come back as ISO text: readers parse by declared type.
    assert stored == Customer(
        **{**_fields(first), "attributes": {"tier": "gold", "since": "2024-01-02"}}
    )

    replaced = await store.upsert_customers([Customer(id="c1", email="new@example.com")])
    assert replaced == CustomersWrite(new=0, updated=1, unchanged=0)
    assert await store.get_customer("c1") == Customer(id="c1", email="new@example.com")
    assert await store.customer_count() == 2
    assert await store.get_customer("nobody") is None


async def test_a_customer_keeps_the_time_it_was_first_stored(store: Store) -> None:
    came = at("2026-11-20T09:30:00+01:00")
    await store.upsert_customers([Customer(id="c1", first_name="Ann")], now=came)
    stored = await store.get_customer("c1")
    assert stored is not None and stored.created_at == came
    # Replaced (a re-import, an HTTP PUT) later: the customer existed since the first time.
    await store.upsert_customers(
        [Customer(id="c1", first_name="Anna")], now=came + timedelta(days=3)
    )
    (facts,) = await store.load_facts()
    assert (facts.customer.first_name, facts.customer.created_at) == ("Anna", came)
    # Stored without saying when: not known, nothing is left out for it.
    await store.upsert_customers([Customer(id="c2")])
    assert [f.customer.created_at for f in await store.load_facts()] == [came, None]


async def test_a_re_import_counts_new_updated_and_unchanged_and_says_how_far_it_got(
    store: Store,
) -> None:
    await store.upsert_customers([Customer(id="a", first_name="Ann"), Customer(id="b")])
    done: list[int] = []
    written = await store.upsert_customers(
        [Customer(id="a", first_name="Anna"), Customer(id="b"), Customer(id="c")],
        progress=done.append,
    )
    assert written == CustomersWrite(new=1, updated=1, unchanged=1)
    assert done == sorted(done) and done[-1] == 3
    assert await store.customer_count() == 3


# --- events ---------------------------------------------------------------------------


async def test_events_are_idempotent_by_id(store: Store) -> None:
    await store.upsert_customers([Customer(id="c1")])
    e1 = event("e1", "c1", "2026-05-01T10:00:00+00:00")
    e2 = event("e2", "c1", "2026-05-02T10:00:00+00:00")
    assert await store.add_events([e1, e2]) == (2, 0)
    changed = event("e1", "c1", "2026-06-01T10:00:00+00:00", note="ignored")
    e3 = event("e3", "c1", "2026-05-03T10:00:00+00:00")
    assert await store.add_events([changed, e2, e3, e3]) == (1, 3)
    [facts] = await store.load_facts()
    assert [e.id for e in facts.events] == ["e1", "e2", "e3"]
    assert facts.events[0] == e1  # the first version of e1 stays


async def test_an_event_keeps_its_instant_and_its_data_dates_come_back_as_iso_text(
    store: Store,
) -> None:
    # Stored before its customer (an export, a webhook): it is theirs once they come.
    fold = event("e1", "c1", "2026-10-25T02:30:00+01:00", on=date(2026, 10, 25),
                 at=datetime(2026, 10, 25, 2, 30, tzinfo=CET))  # fmt: skip
    assert await store.add_events([fold]) == (1, 0)
    await store.upsert_customers([Customer(id="c1")])
    (stored,), count = await store.customer_events("c1")
    assert (stored.at, count) == (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), 1)
    assert stored.data == {"on": "2026-10-25", "at": "2026-10-25T02:30:00+01:00"}
    assert (await store.load_facts())[0].events == (stored,)


async def test_checked_events_are_stored_only_when_every_customer_exists(store: Store) -> None:
    await store.upsert_customers([Customer(id="c1")])
    known = event("e1", "c1", "2026-05-01T10:00:00+00:00")
    stranger = event("e2", "c9", "2026-05-01T10:00:00+00:00")
    refused = await store.add_events_checked([known, stranger])
    assert refused.unknown_customers == ("c9",)
    assert (refused.inserted, refused.duplicates, refused.conflicts) == (set(), set(), ())
    assert await store.customer_events("c1") == ([], 0)  # not even the known customer's

    done: list[int] = []
    written = await store.add_events_checked([known], progress=done.append)
    assert (written.inserted, written.duplicates) == (frozenset({"e1"}), frozenset())
    assert done[-1] == 1


async def test_a_checked_event_repeated_is_a_duplicate_and_a_different_one_a_conflict(
    store: Store,
) -> None:
    await store.upsert_customers([Customer(id="c1")])
    first = event("e1", "c1", "2026-05-01T10:00:00+00:00", a=1, b=2)
    await store.add_events_checked([first])
    # The same event again, its data keys in another order (a client retrying).
    again = event("e1", "c1", "2026-05-01T12:00:00+02:00", b=2, a=1)
    repeat = await store.add_events_checked([again, event("e2", "c1", "2026-05-02T10:00:00Z")])
    assert (repeat.inserted, repeat.duplicates) == (frozenset({"e2"}), frozenset({"e1"}))

    other = event("e1", "c1", "2026-05-01T10:00:00+00:00", a=2, b=2)
    new = event("e3", "c1", "2026-05-03T10:00:00+00:00")
    conflict = await store.add_events_checked([other, new])
    assert conflict.conflicts == ("e1",)
    assert conflict.differences == {"e1": ("data.a: recorded 1, here 2",)}
    assert conflict.inserted == frozenset()
    assert [e.id for e in (await store.customer_events("c1"))[0]] == ["e2", "e1"]


# --- suppressions ---------------------------------------------------------------------


async def test_suppressions_apply_case_insensitively_and_by_scope(store: Store) -> None:
    await store.upsert_customers(
        [
            Customer(id="ann", email="Ann@Example.COM"),
            Customer(id="bob", email="bob@example.com"),
            Customer(id="cat", email="cat@example.com"),
            Customer(id="dan"),
        ]
    )
    await store.add_suppression(
        Suppression(email="ann@example.com", scope=SuppressionScope.MARKETING)
    )
    await store.add_suppression(Suppression(email=" BOB@example.com", scope=SuppressionScope.ALL))
    await store.add_suppression(
        Suppression(email="bob@example.com", scope=SuppressionScope.MARKETING, reason="asked")
    )
    expected = {
        "ann": {SuppressionScope.MARKETING},
        "bob": {SuppressionScope.ALL, SuppressionScope.MARKETING},
        "cat": set(),
        "dan": set(),
    }
    everyone = await store.load_facts()
    assert {f.customer.id: set(f.suppressed) for f in everyone} == expected
    some = await store.load_facts(customer_ids=["ann", "cat"])
    assert {f.customer.id: set(f.suppressed) for f in some} == {
        "ann": expected["ann"],
        "cat": set(),
    }
    kept = sorted((s.email, s.scope.value, s.reason) for s in await store.list_suppressions())
    assert kept == [
        ("ann@example.com", "marketing", None),
        ("bob@example.com", "all", None),
        ("bob@example.com", "marketing", "asked"),
    ]


async def test_repeated_suppression_keeps_its_first_date(store: Store) -> None:
    first = datetime(2026, 1, 1, tzinfo=UTC)
    scope = SuppressionScope.ALL
    await store.add_suppression(Suppression(email="a@x.org", scope=scope, created_at=first))
    later = first + timedelta(days=30)
    await store.add_suppression(
        Suppression(email="A@x.org", scope=scope, reason="bounced", created_at=later)
    )
    assert await store.list_suppressions() == [
        Suppression(email="a@x.org", scope=scope, reason="bounced", created_at=first)
    ]
    # A repeat without a reason keeps the one given before.
    await store.add_suppression(Suppression(email="a@x.org", scope=scope, created_at=later))
    assert [s.reason for s in await store.list_suppressions()] == ["bounced"]


# --- all or nothing, meta ---------------------------------------------------------------


async def test_a_failed_write_rolls_back_the_whole_batch(store: Store) -> None:
    # A value JSON cannot hold fails half-way through building the batch rows.
    bad = Customer(id="c2", attributes={"x": object()})
    with pytest.raises(TypeError):
        await store.upsert_customers([Customer(id="c1"), bad])
    assert await store.customer_count() == 0
    # The connection is usable afterwards: no transaction was left open.
    assert (await store.upsert_customers([Customer(id="c1")])).new == 1


async def test_a_write_cancelled_at_any_moment_leaves_no_transaction_open(store: Store) -> None:
    # A daemon stopped while a statement is on its way to the store: whatever the
    # moment, the next transaction must start cleanly.
    for ticks in range(40):
        task = asyncio.create_task(store.set_meta("k", str(ticks)))
        for _ in range(ticks % 8):
            await asyncio.sleep(0)
        await asyncio.sleep(0.0002 * (ticks // 8))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.set_meta("after", str(ticks))
        assert await store.get_meta("after") == str(ticks)


async def test_meta_keeps_the_last_value_set_for_each_key(store: Store) -> None:
    assert await store.get_meta("missing") is None
    await store.set_meta("k", "v")
    await store.set_meta("other", "w")
    await store.set_meta("k", "v2")
    assert (await store.get_meta("k"), await store.get_meta("other")) == ("v2", "w")
