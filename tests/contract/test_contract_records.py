"""What every store promises behind `touchflow customers|events|suppressions|sample` and the
HTTP interface: pages of records, deletion that leaves no trace, erasure that keeps only
what stops a repeat, and lifted suppressions re-planned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from store_support import FAILED, RETRY, claim_one, forget_changes, minutes, outbox_row

from touchflow.models import Customer, Event, Suppression, SuppressionScope
from touchflow.store import Erasure, Store, hashed_address

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ALL = SuppressionScope.ALL
MARKETING = SuppressionScope.MARKETING


@pytest.fixture
async def people(store: Store) -> Store:
    """Five customers (c-01 to c-05, P1@Example.com to P5@...), c-01 with three orders."""
    await store.upsert_customers(
        [Customer(id=f"c-{n:02d}", email=f"P{n}@Example.com") for n in range(1, 6)]
    )
    orders = [Event(id=f"e-{n}", type="order", customer_id="c-01", at=T0 + timedelta(days=n))
              for n in range(3)]  # fmt: skip
    await store.add_events([*orders, Event(id="x", type="order", customer_id="c-02", at=T0)])
    return store


async def test_customers_come_a_page_at_a_time_by_id_and_by_address(people: Store) -> None:
    first = await people.list_customers(limit=2)
    assert [c.id for c in first] == ["c-01", "c-02"]
    nxt = await people.list_customers(after=first[-1].id, limit=2)
    assert [c.id for c in nxt] == ["c-03", "c-04"]
    assert [c.id for c in await people.list_customers(limit=9, email=" p3@EXAMPLE.com")] == ["c-03"]


async def test_a_customers_events_come_newest_first_with_their_count(people: Store) -> None:
    events, count = await people.customer_events("c-01", limit=2)
    assert ([e.id for e in events], count) == (["e-2", "e-1"], 3)
    assert await people.customer_events("nobody") == ([], 0)


async def test_removing_a_suppression_lifts_plain_and_hashed_and_marks_the_customer_changed(
    people: Store,
) -> None:
    await people.add_suppression(Suppression(email="p1@example.com", scope=ALL, created_at=T0))
    await people.add_suppression(Suppression(email="p1@example.com", scope=MARKETING))
    await people.add_suppression(Suppression(email="p2@example.com", scope=ALL))
    shown = await people.list_suppressions(email="P1@example.com")
    assert {s.scope for s in shown} == {ALL, MARKETING}
    assert len(await people.list_suppressions()) == 3
    await forget_changes(people)
    assert await people.remove_suppressions("P1@Example.com", [ALL]) == 1
    assert [s.scope for s in await people.list_suppressions(email="p1@example.com")] == [MARKETING]
    assert (await people.pending_changes(limit=100))[1] == {"c-01"}  # the daemon re-plans it
    assert await people.remove_suppressions("p1@example.com", [ALL]) == 0


async def test_deleting_customers_takes_everything_of_theirs_and_nothing_else(
    people: Store,
) -> None:
    await people.add_suppression(Suppression(email="p1@example.com", scope=MARKETING))
    await people.add_suppression(Suppression(email="p2@example.com", scope=MARKETING))
    await people.write_plan([outbox_row("k1", customer_id="c-01")], [], now=T0)
    gone = await people.delete_customers(
        ["c-01", "c-02"], [Suppression(email="P1@example.com", scope=MARKETING)]
    )
    assert (gone.customers, gone.events, gone.touchpoints, gone.suppressions) == (2, 4, 1, 1)
    assert await people.existing_customer_ids(["c-01", "c-02", "c-03"]) == {"c-03"}
    assert [s.email for s in await people.list_suppressions()] == ["p2@example.com"]
    # No change of theirs is left for the daemon, and no event.
    assert (await people.pending_changes(limit=100))[1] == {"c-03", "c-04", "c-05"}
    assert [await people.customer_events(c) for c in ("c-01", "c-02")] == [([], 0), ([], 0)]
    assert await people.outbox_by_keys(["k1"]) == {}


async def test_suppressions_list_newest_first_up_to_a_limit(store: Store) -> None:
    for day, email in enumerate(["old@x.org", "mid@x.org", "new@x.org"]):
        when = T0 + timedelta(days=day)
        await store.add_suppression(Suppression(email=email, scope=ALL, created_at=when))
    assert [s.email for s in await store.list_suppressions()] == [
        "new@x.org", "mid@x.org", "old@x.org",
    ]  # fmt: skip
    assert [s.email for s in await store.list_suppressions(limit=2)] == ["new@x.org", "mid@x.org"]


# --- erasure --------------------------------------------------------------------------------


async def test_erasure_removes_the_customer_and_keeps_only_what_stops_a_repeat(
    people: Store,
) -> None:
    await people.add_suppression(
        Suppression(email="p1@example.com", scope=ALL, reason="bounced: P1@Example.com unknown")
    )
    later = {"customer_id": "c-01", "due": minutes(30)}
    await people.write_plan(
        [
            outbox_row("planned", **later),
            outbox_row("retrying", RETRY, **later),
            outbox_row("failed", FAILED, last_error="550 <P1@Example.com> unknown", **later),
        ],
        [],
        now=T0,
    )
    await claim_one(people, outbox_row("in-flight", customer_id="c-01", to="P1@Example.com"))

    erased = await people.erase_customer("c-01")
    assert erased == Erasure(
        events=3, touchpoints_deleted=2, touchpoints_kept=2, suppressions_hashed=1
    )
    assert await people.get_customer("c-01") is None
    assert await people.customer_events("c-01") == ([], 0)
    kept = await people.outbox_by_keys(["planned", "retrying", "failed", "in-flight"])
    assert sorted(kept) == ["failed", "in-flight"]
    assert {row.to for row in kept.values()} == {None}  # the address is gone from them too
    assert kept["failed"].last_error == "550 <[erased]> unknown"
    [held] = await people.list_suppressions()
    assert held.email == hashed_address("p1@example.com")
    assert held.reason == "bounced: [erased] unknown"  # the reason quoted the address
    assert "c-01" not in ((await people.pending_changes(limit=100))[1] or set())
    assert await people.erase_customer("c-01") is None


async def test_an_erased_address_that_comes_back_is_still_suppressed(people: Store) -> None:
    await people.add_suppression(Suppression(email="p1@example.com", scope=MARKETING))
    await people.erase_customer("c-01")
    await people.upsert_customers([Customer(id="c-99", email="P1@EXAMPLE.com")])
    (facts,) = await people.load_facts(customer_ids=["c-99"])
    assert facts.suppressed == {MARKETING}
    shown = await people.list_suppressions(email="p1@example.com")
    assert [s.email for s in shown] == [hashed_address("p1@example.com")]
    assert await people.remove_suppressions("P1@example.com", [MARKETING]) == 1
