"""What every store promises about when it learnt things, for `touchflow backtest`: the
time each event was recorded, ``known_since`` (events and suppressions of customers),
and ``sent_of_customers`` (what the outbox sent them, in a window)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from store_support import CANCELLED, NOW, PENDING, SENT, event, minutes, outbox_row

from touchflow.models import Customer, Event, KnownSince, Suppression, SuppressionScope
from touchflow.store import Store

LATER = NOW + timedelta(hours=2)
MARKETING, ALL = SuppressionScope.MARKETING, SuppressionScope.ALL

# --- recorded_at ------------------------------------------------------------------------


async def _recorded(store: Store, customer_id: str = "c1") -> dict[str, object]:
    events, _ = await store.customer_events(customer_id)
    return {e.id: e.recorded_at for e in events}


async def test_an_event_is_recorded_at_the_writers_now_and_keeps_it_on_a_repeat(
    store: Store,
) -> None:
    e1 = event("e1", "c1", "2026-05-01T10:00:00Z")
    assert await store.add_events([e1], now=NOW) == (1, 0)
    assert await store.add_events([e1, event("e2", "c1", "2026-05-02T10:00:00Z")]) == (1, 1)
    # The repeat, written later, changes nothing: e1 was recorded at NOW; e2 without a clock.
    assert await _recorded(store) == {"e1": NOW, "e2": None}
    await store.add_events([e1], now=LATER)
    assert await _recorded(store) == {"e1": NOW, "e2": None}


async def test_a_checked_write_records_at_now_and_a_copy_keeps_its_own_time(
    store: Store,
) -> None:
    await store.upsert_customers([Customer(id="c1")])
    copied = dataclasses.replace(
        event("e2", "c1", "2026-05-02T10:00:00Z"), recorded_at=minutes(-90)
    )
    written = await store.add_events_checked(
        [event("e1", "c1", "2026-05-01T10:00:00Z"), copied], now=NOW
    )
    assert written.inserted == {"e1", "e2"}
    assert await _recorded(store) == {"e1": NOW, "e2": minutes(-90)}
    # A repeat recorded later is the same event (a duplicate, not a conflict), kept as it was.
    again = await store.add_events_checked([event("e1", "c1", "2026-05-01T10:00:00Z")], now=LATER)
    assert (again.duplicates, again.conflicts) == ({"e1"}, ())
    async with store.bulk_write() as bulk:
        bulk_written = await bulk.add_events_checked(
            [event("e1", "c1", "2026-05-01T10:00:00Z"), event("e3", "c1", "2026-05-03T10:00Z")],
            now=LATER,
        )
    assert (bulk_written.inserted, bulk_written.duplicates) == ({"e3"}, {"e1"})
    assert await _recorded(store) == {"e1": NOW, "e2": minutes(-90), "e3": LATER}


async def test_the_planners_facts_leave_recorded_at_out(store: Store) -> None:
    await store.upsert_customers([Customer(id="c1")])
    await store.add_events([event("e1", "c1", "2026-05-01T10:00:00Z")], now=NOW)
    (facts,) = await store.load_facts()
    assert [(e.id, e.recorded_at) for e in facts.events] == [("e1", None)]
    (page,) = await store.facts_page("", 10)
    assert [e.recorded_at for e in page.events] == [None]


# --- known_since ------------------------------------------------------------------------


async def test_known_since_gives_each_events_recorded_at_and_the_scopes_on_the_address(
    store: Store,
) -> None:
    await store.upsert_customers(
        [Customer(id="c1", email="Ann@Example.com"), Customer(id="c2", email="bo@example.com")]
    )
    await store.add_events([event("e1", "c1", "2026-05-01T10:00:00Z")], now=NOW)
    await store.add_events([event("e2", "c1", "2026-05-02T10:00:00Z")])  # not known when
    await store.add_events([event("e3", "c9", "2026-05-02T10:00:00Z")], now=LATER)  # no customer
    await store.add_suppression(
        Suppression(email="ANN@example.com", scope=MARKETING, created_at=NOW)
    )
    await store.add_suppression(Suppression(email="ann@example.com", scope=ALL, created_at=LATER))
    await store.add_suppression(Suppression(email="bo@example.com", scope=ALL))  # date unknown
    await store.add_suppression(Suppression(email="cy@example.com", scope=ALL, created_at=NOW))
    known = await store.known_since(["c1", "c2", "c9", "c3", "nobody"])
    assert known == {
        "c1": KnownSince(events={"e1": NOW, "e2": None}, suppressions={MARKETING: NOW, ALL: LATER}),
        "c2": KnownSince(events={}, suppressions={ALL: None}),
        "c9": KnownSince(events={"e3": LATER}, suppressions={}),
    }
    assert await store.known_since([]) == {}
    assert list(await store.known_since(["c2"])) == ["c2"]  # only those asked for


async def test_known_since_matches_an_erased_address_that_came_back(store: Store) -> None:
    await store.upsert_customers([Customer(id="c1", email="ann@example.com")])
    await store.add_suppression(Suppression(email="ann@example.com", scope=ALL, created_at=NOW))
    await store.erase_customer("c1")  # the suppression is kept hashed
    await store.upsert_customers([Customer(id="c2", email="Ann@Example.com")])
    await store.add_suppression(
        Suppression(email="ann@example.com", scope=MARKETING, created_at=LATER)
    )
    known = await store.known_since(["c1", "c2"])
    assert known == {"c2": KnownSince(suppressions={ALL: NOW, MARKETING: LATER})}
    # Suppressed again in the same scope: it counts from the first time.
    await store.add_suppression(Suppression(email="ann@example.com", scope=ALL, created_at=LATER))
    known = await store.known_since(["c2"])
    assert known["c2"].suppressions == {ALL: NOW, MARKETING: LATER}


async def test_known_since_reads_many_customers_at_once(store: Store) -> None:
    ids = [f"c{i:04d}" for i in range(1200)]  # past SQLite's IN chunks, PostgreSQL's prepared
    await store.upsert_customers([Customer(id=i, email=f"{i}@example.com") for i in ids])
    await store.add_events(
        [Event(id=f"e-{i}", type="order", customer_id=i, at=NOW) for i in ids], now=NOW
    )
    await store.add_suppression(Suppression(email="c1199@example.com", scope=ALL, created_at=NOW))
    known = await store.known_since(ids)
    assert sorted(known) == ids
    assert known["c0000"] == KnownSince(events={"e-c0000": NOW})
    assert known["c1199"].suppressions == {ALL: NOW}


# --- sent_of_customers ------------------------------------------------------------------


async def test_sent_of_customers_gives_their_sent_rows_due_in_the_half_open_window(
    store: Store,
) -> None:
    rows = [
        outbox_row("a-start", SENT, due=minutes(0)),
        outbox_row("b-inside", SENT, due=minutes(30), counts_for_caps=False),
        outbox_row("a-inside", SENT, due=minutes(30)),
        outbox_row("at-end", SENT, due=minutes(60)),  # [from, to): left out
        outbox_row("before", SENT, due=minutes(-1)),
        outbox_row("pending", PENDING, due=minutes(10)),
        outbox_row("cancelled", CANCELLED, due=minutes(10)),
        outbox_row("c2-sent", SENT, due=minutes(5), customer_id="c2"),
        outbox_row("c0-sent", SENT, due=minutes(50), customer_id="c0"),
        outbox_row("other", SENT, due=minutes(5), customer_id="c3"),  # not asked for
    ]
    await store.write_plan(rows, [], now=NOW)
    found = await store.sent_of_customers(
        ["c2", "c1", "c0", "c1"], due_from=minutes(0), due_to=minutes(60)
    )
    assert [(r.customer_id, r.key) for r in found] == [
        ("c0", "c0-sent"),
        ("c1", "a-start"),
        ("c1", "a-inside"),
        ("c1", "b-inside"),
        ("c2", "c2-sent"),
    ]
    assert {r.state for r in found} == {SENT}
    assert await store.sent_of_customers([], due_from=minutes(0), due_to=minutes(60)) == []
    assert await store.sent_of_customers(["c1"], due_from=minutes(60), due_to=minutes(60)) == []
