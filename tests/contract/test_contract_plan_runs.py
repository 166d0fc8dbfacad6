"""What every store promises about a full plan shared out in id ranges
(``touchflow.store.planning``): each range is taken by one planner at a time, picked up
from where it got to when its holder's lease ends, and a planner that lost its range
(or whose run was replaced) is told so; and the changes a page must not write over are
kept, and named, while a run is under way."""

from __future__ import annotations

from datetime import timedelta

from store_support import NOW

from touchflow.models import Customer, Event
from touchflow.store import Store

LATER = NOW + timedelta(minutes=5)


async def test_each_range_is_taken_once_in_id_order_until_none_is_left(store: Store) -> None:
    await store.start_plan_run("run-1", [("", "m"), ("m", None)])
    first = await store.take_plan_range("run-1", me="a", now=NOW, until=LATER)
    second = await store.take_plan_range("run-1", me="b", now=NOW, until=LATER)
    assert first is not None and second is not None
    assert (first.rest, second.rest) == (("", "m"), ("m", None))
    assert await store.take_plan_range("run-1", me="c", now=NOW, until=LATER) is None
    assert await store.plan_ranges_left("run-1") == 2


async def test_progress_is_kept_and_a_range_whose_lease_ended_goes_on_from_there(
    store: Store,
) -> None:
    await store.start_plan_run("run-1", [("", None)])
    taken = await store.take_plan_range("run-1", me="a", now=NOW, until=LATER)
    assert taken is not None
    assert await store.advance_plan_range(taken, me="a", cursor="c5", done=False, until=LATER)
    assert await store.take_plan_range("run-1", me="b", now=NOW, until=LATER) is None
    again = await store.take_plan_range("run-1", me="b", now=LATER + timedelta(seconds=1),
                                         until=LATER + timedelta(minutes=5))  # fmt: skip
    assert again is not None and again.rest == ("c5", None)
    # The first holder lost it: its progress is refused, and changes nothing.
    assert not await store.advance_plan_range(taken, me="a", cursor="c9", done=True, until=LATER)
    assert await store.advance_plan_range(again, me="b", cursor="c9", done=True, until=LATER)
    assert await store.plan_ranges_left("run-1") == 0
    assert await store.take_plan_range("run-1", me="c", now=LATER + timedelta(days=1),
                                       until=LATER + timedelta(days=2)) is None  # fmt: skip


async def test_a_new_run_replaces_the_ranges_of_the_last_one(store: Store) -> None:
    await store.start_plan_run("run-1", [("", None)])
    taken = await store.take_plan_range("run-1", me="a", now=NOW, until=LATER)
    assert taken is not None
    await store.start_plan_run("run-2", [("", "k"), ("k", None)])
    assert not await store.advance_plan_range(taken, me="a", cursor="z", done=True, until=LATER)
    assert await store.plan_ranges_left("run-1") == 0
    assert await store.take_plan_range("run-1", me="a", now=NOW, until=LATER) is None
    assert await store.plan_ranges_left("run-2") == 2
    await store.end_plan_run("run-2")
    assert await store.plan_ranges_left("run-2") == 0


async def test_changes_dropped_with_keep_are_no_longer_pending_but_named_as_replanned(
    store: Store,
) -> None:
    assert await store.changes_done() == 0
    await store.upsert_customers([Customer(id="c1"), Customer(id="c2")])
    before = await store.changes_done()
    last, ids = await store.pending_changes(limit=10)
    assert ids == {"c1", "c2"}
    assert await store.replanned_after(["c1", "c2"], before) == set()  # pending, not planned
    await store.drop_changes(last, keep=True)
    assert await store.pending_changes(limit=10) == (0, set())
    assert await store.changes_done() == last
    assert await store.replanned_after(["c1", "c3"], before) == {"c1"}
    # A later change is pending: not named until it is planned.
    await store.add_events([Event(id="e1", type="order", customer_id="c2", at=NOW)])
    assert await store.replanned_after(["c1", "c2"], last) == set()
    newest, ids = await store.pending_changes(limit=10)
    assert ids == {"c2"} and newest > last
    await store.drop_changes(newest, keep=True)
    assert await store.replanned_after(["c1", "c2"], last) == {"c2"}
    await store.drop_changes(newest)  # without keep: the rows go
    assert await store.replanned_after(["c1", "c2"], before) == set()
    assert await store.changes_done() == newest


async def test_changes_done_never_goes_back(store: Store) -> None:
    await store.upsert_customers([Customer(id="c1")])
    last, _ = await store.pending_changes(limit=10)
    await store.drop_changes(last)
    await store.drop_changes(last - 1)
    assert await store.changes_done() == last


async def test_changes_dropped_past_the_last_do_not_hide_later_ones(store: Store) -> None:
    await store.upsert_customers([Customer(id="c1")])
    await store.drop_changes(2**62)
    await store.upsert_customers([Customer(id="c2")])
    assert (await store.pending_changes(limit=10))[1] == {"c2"}
