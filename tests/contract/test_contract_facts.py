"""What every store promises about the planner's facts: order, some customers or everyone
a page at a time, id ranges, and the sends that count towards caps."""

from __future__ import annotations

from datetime import timedelta

from store_support import NOW, event, minutes, outbox_row, promo, send_at

from touchflow.models import (
    Category,
    Customer,
    OutboxState,
    SentRecord,
    Suppression,
    SuppressionScope,
)
from touchflow.store import EVERYONE, Store


async def test_load_facts_orders_customers_by_id_and_events_by_time_then_id(store: Store) -> None:
    await store.upsert_customers([Customer(id=i) for i in ("c3", "c1", "c2")])
    await store.add_events(
        [
            event("b", "c1", "2026-05-01T09:00:00+00:00"),
            event("a", "c1", "2026-05-01T09:00:00+00:00"),  # same instant: id decides
            event("late", "c1", "2026-05-01T12:00:00+02:00"),  # 10:00 UTC
            event("early", "c1", "2026-05-01T10:30:00+02:00"),  # 08:30 UTC
            event("other", "c3", "2026-01-01T00:00:00+00:00"),
            event("orphan", "nobody", "2026-01-01T00:00:00+00:00"),
        ]
    )
    facts = await store.load_facts()
    assert [f.customer.id for f in facts] == ["c1", "c2", "c3"]
    assert [e.id for e in facts[0].events] == ["early", "a", "b", "late"]
    assert facts[1].events == ()
    assert [e.id for e in facts[2].events] == ["other"]
    assert all(f.sent == () for f in facts)


async def test_load_facts_for_some_customers(store: Store) -> None:
    # More ids than one IN (...) chunk of the SQLite store holds.
    await store.upsert_customers([Customer(id=f"c{i:04d}") for i in range(1200)])
    await store.add_events(
        [event(f"e{i}", f"c{i:04d}", "2026-05-01T09:00:00+00:00") for i in (5, 1100)]
    )
    wanted = [f"c{i:04d}" for i in range(1199, 0, -2)] + ["nobody"]
    facts = await store.load_facts(customer_ids=wanted)
    assert [f.customer.id for f in facts] == sorted(wanted)[:-1]
    assert {f.customer.id: [e.id for e in f.events] for f in facts if f.events} == {"c0005": ["e5"]}
    assert await store.load_facts(customer_ids=[]) == []


async def test_facts_pages_are_everyone_in_id_order_a_page_at_a_time(store: Store) -> None:
    await store.upsert_customers(
        [Customer(id=f"c{i}", email=f"C{i}@Example.com") for i in (6, 0, 3, 1, 5, 2, 4)]
    )
    await store.add_events(
        [
            event("late", "c3", "2026-05-02T09:00:00+00:00"),
            event("early", "c3", "2026-05-01T09:00:00+00:00"),
            event("one", "c1", "2026-05-01T09:00:00+00:00"),
            event("six", "c6", "2026-05-01T09:00:00+00:00"),
            event("orphan", "c9", "2026-05-01T09:00:00+00:00"),
        ]
    )
    await store.add_suppression(Suppression(email="c5@example.com", scope=SuppressionScope.ALL))
    # c4 is erased with a suppression on their address, and comes back with it.
    await store.add_suppression(
        Suppression(email="c4@example.com", scope=SuppressionScope.MARKETING)
    )
    await store.erase_customer("c4")
    await store.upsert_customers([Customer(id="c4", email="c4@EXAMPLE.com")])
    since = NOW - timedelta(days=7)
    await send_at(store, promo("k1", customer_id="c2"), minutes(-60))
    await send_at(store, promo("k2", customer_id="c2"), since - timedelta(days=1))  # too old

    pages = [page async for page in store.facts_pages(page_size=3, sent_since=since)]
    assert [[f.customer.id for f in page] for page in pages] == [
        ["c0", "c1", "c2"], ["c3", "c4", "c5"], ["c6"],
    ]  # fmt: skip
    assert [f for page in pages for f in page] == await store.load_facts(sent_since=since)
    by_id = {f.customer.id: f for page in pages for f in page}
    assert [e.id for e in by_id["c3"].events] == ["early", "late"]
    assert [e.id for e in by_id["c6"].events] == ["six"]  # the last page, alone, has its events
    assert by_id["c5"].suppressed == {SuppressionScope.ALL}
    assert by_id["c4"].suppressed == {SuppressionScope.MARKETING}
    assert by_id["c3"].suppressed == set()
    assert [s.key for s in by_id["c2"].sent] == ["k1"]


async def test_facts_pages_of_an_empty_store_is_no_page(store: Store) -> None:
    assert [page async for page in store.facts_pages(page_size=3)] == []


async def test_id_ranges_split_everyone_into_parts_of_about_equal_size(store: Store) -> None:
    assert await store.id_ranges(4) == [EVERYONE]  # nobody yet: one range, all of it
    await store.upsert_customers([Customer(id=f"c{i:02d}") for i in range(10)])
    ranges = await store.id_ranges(3)
    assert len(ranges) == 3
    assert (ranges[0][0], ranges[-1][1]) == EVERYONE
    assert all(ranges[i][1] == ranges[i + 1][0] for i in range(len(ranges) - 1))
    parts = []
    for ids in ranges:
        parts.append([f.customer.id async for page in store.facts_pages(ids=ids) for f in page])
    assert [len(part) for part in parts] == [3, 3, 4]
    assert [c for part in parts for c in part] == [f"c{i:02d}" for i in range(10)]
    assert len(await store.id_ranges(50)) == 10  # never more parts than customers


async def test_a_page_reads_the_customers_after_one_id_and_up_to_another(store: Store) -> None:
    await store.upsert_customers([Customer(id=i) for i in ("a", "b", "c", "d", "e")])
    assert [f.customer.id for f in await store.facts_page("", 2)] == ["a", "b"]
    assert [f.customer.id for f in await store.facts_page("b", 10, up_to="d")] == ["c", "d"]
    assert await store.facts_page("e", 10) == []


async def test_load_facts_brings_sends_that_count_for_caps_since_the_given_instant(
    store: Store,
) -> None:
    await store.upsert_customers([Customer(id="c1"), Customer(id="c2")])
    since = NOW - timedelta(days=7)
    await send_at(store, promo("too-old"), since - timedelta(microseconds=1))
    await send_at(store, promo("edge"), since)
    await send_at(store, promo("recent"), minutes(-60))
    await send_at(store, outbox_row("uncapped", counts_for_caps=False), minutes(-50))
    await send_at(store, promo("c2-recent", customer_id="c2"), minutes(-40))
    await store.write_plan([promo("pending", due=minutes(30))], [], now=NOW)

    c1, c2 = await store.load_facts(sent_since=since)
    assert sorted(c1.sent, key=lambda s: s.due_at) == [
        SentRecord(key="edge", customer_id="c1", category=Category.MARKETING, due_at=since),
        SentRecord(
            key="recent", customer_id="c1", category=Category.MARKETING, due_at=minutes(-60)
        ),
    ]
    assert [s.key for s in c2.sent] == ["c2-recent"]

    (only_c2,) = await store.load_facts(customer_ids=["c2"], sent_since=since)
    assert [s.key for s in only_c2.sent] == ["c2-recent"]
    assert all(f.sent == () for f in await store.load_facts())  # not asked for: none


async def test_a_send_that_went_out_late_counts_for_caps_at_its_due_time(store: Store) -> None:
    # A preview knows only due times: a send counted when it left (a cron an hour
    # later, or the milliseconds any send takes) would cap what the preview promised.
    await store.upsert_customers([Customer(id="c1")])
    since = NOW - timedelta(days=7)
    await send_at(store, promo("due-before"), since - timedelta(minutes=1), late=timedelta(hours=1))
    await send_at(store, promo("due-since"), since, late=timedelta(milliseconds=80))

    for facts in (
        await store.load_facts(sent_since=since),
        await store.load_facts(customer_ids=["c1"], sent_since=since),
        await store.facts_page("", 10, since),
    ):
        assert [s for f in facts for s in f.sent] == [
            SentRecord(key="due-since", customer_id="c1", category=Category.MARKETING, due_at=since)
        ]


async def test_the_sends_read_for_some_customers_are_those_read_for_everyone(
    store: Store,
) -> None:
    # Some customers' sends are read on the customer index (`why`, the console, a page of
    # a plan), everyone's on the state index: the same rows whichever way they are read.
    await store.upsert_customers([Customer(id=i) for i in ("c1", "c2", "c3")])
    since = NOW - timedelta(days=7)
    for n, customer in enumerate(("c1", "c2", "c3", "c2")):
        await send_at(store, promo(f"sent-{n}", customer_id=customer), minutes(-60 + n))
    await send_at(store, promo("too-old", customer_id="c2"), since - timedelta(minutes=1))
    uncapped = promo("uncapped", customer_id="c2", counts_for_caps=False)
    await send_at(store, uncapped, minutes(-30))
    not_sent = [
        promo("pending", customer_id="c2", due=minutes(30)),
        promo("failed", state=OutboxState.FAILED, customer_id="c2", due=minutes(-20)),
    ]
    await store.write_plan(not_sent, [], now=NOW)

    everyone = {f.customer.id: f.sent for f in await store.load_facts(sent_since=since)}
    assert [s.key for s in everyone["c2"]] == ["sent-1", "sent-3"]
    for customer in ("c1", "c2", "c3"):
        (alone,) = await store.load_facts(customer_ids=[customer], sent_since=since)
        assert alone.sent == everyone[customer]
    (page_c2,) = await store.facts_page("c1", 10, since, up_to="c2")
    assert page_c2.sent == everyone["c2"]
