"""What every store promises about the outbox as the planner and operators see it:
plan writes by unique key, state guards, look-ups, listings, re-queues."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from store_support import (
    CANCELLED,
    CLAIMED,
    EXPIRED,
    FAILED,
    NOW,
    PENDING,
    RETRY,
    SENT,
    SUPPRESSED,
    TTL,
    minutes,
    one,
    outbox_row,
    states,
)

from touchflow.models import Category, Customer, OutboxState
from touchflow.store import Store

# --- write_plan --------------------------------------------------------------------------


async def test_write_plan_inserts_new_rows_with_their_times(store: Store) -> None:
    row = outbox_row("k1", due=minutes(30), expires_at=minutes(90), reason=None)
    assert await store.write_plan([row], [], now=NOW) == (1, 0)
    got = await one(store, "k1")
    assert dataclasses.replace(got, created_at=None, updated_at=None) == row
    assert (got.created_at, got.updated_at) == (NOW, NOW)


async def test_each_row_keeps_its_channel_and_a_re_plan_may_change_it(store: Store) -> None:
    email, hook = outbox_row("k1"), outbox_row("k2", channel="webhook", to=None)
    await store.write_plan([email, hook], [], now=NOW)
    assert (await one(store, "k1")).channel == "email"
    assert (await one(store, "k2")).channel == "webhook"
    moved = dataclasses.replace(email, channel="webhook", to=None)
    assert await store.write_plan([], [(moved, PENDING)], now=minutes(1)) == (0, 1)
    claimed = await store.claim_due(owner="w", now=minutes(2), ttl=TTL, limit=10)
    assert {row.key: row.channel for row in claimed} == {"k1": "webhook", "k2": "webhook"}
    assert [row.channel for row in await store.list_outbox()] == ["webhook", "webhook"]


async def test_write_plan_does_not_overwrite_a_key_that_is_already_there(
    store: Store,
) -> None:
    await store.write_plan([outbox_row("k1", SENT)], [], now=NOW)
    assert await store.write_plan([outbox_row("k1", PENDING)], [], now=minutes(1)) == (0, 0)
    assert (await one(store, "k1")).state is SENT


async def test_write_plan_updates_a_row_still_in_the_state_it_was_read_in(
    store: Store,
) -> None:
    await store.write_plan([outbox_row("k1")], [], now=NOW)
    moved = outbox_row("k1", due=minutes(60), reason=None, category=Category.MARKETING)
    assert await store.write_plan([], [(moved, PENDING)], now=minutes(1)) == (0, 1)
    got = await one(store, "k1")
    assert (got.due_at, got.next_attempt_at, got.category) == (
        minutes(60),
        minutes(60),
        Category.MARKETING,
    )
    assert (got.created_at, got.updated_at) == (NOW, minutes(1))


async def test_an_update_whose_expected_state_no_longer_matches_is_skipped(
    store: Store,
) -> None:
    await store.write_plan([outbox_row("k1", due=minutes(-1))], [], now=NOW)
    # The planner read it pending; a dispatcher claimed it before the plan was written.
    await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=10)
    cancelled = outbox_row("k1", CANCELLED, reason="cancelled", last_error="cancel event")
    assert await store.write_plan([], [(cancelled, PENDING)], now=minutes(1)) == (0, 0)
    got = await one(store, "k1")
    assert (got.state, got.reason, got.claim_owner) == (CLAIMED, None, "w")


async def test_inserts_and_updates_are_written_in_one_transaction(store: Store) -> None:
    await store.write_plan([outbox_row("k1")], [], now=NOW)
    inserted, updated = await store.write_plan(
        [outbox_row("k2"), outbox_row("k3")],
        [(outbox_row("k1", CANCELLED, reason="cancelled"), PENDING)],
        now=minutes(1),
    )
    assert (inserted, updated) == (2, 1)
    assert await states(store) == {"k1": CANCELLED, "k2": PENDING, "k3": PENDING}


# --- look-ups ---------------------------------------------------------------------------


async def test_outbox_by_keys_finds_keys_in_chunks_and_skips_unknown_ones(
    store: Store,
) -> None:
    rows = [outbox_row(f"k{i:04d}") for i in range(1200)]  # more than one IN (...) chunk
    await store.write_plan(rows, [], now=NOW)
    found = await store.outbox_by_keys([*(r.key for r in rows), "nope"])
    assert sorted(found) == [r.key for r in rows]
    assert await store.outbox_by_keys([]) == {}


async def test_open_outbox_is_pending_and_retry_rows_due_in_the_window(
    store: Store,
) -> None:
    await store.write_plan(
        [
            outbox_row("before", due=minutes(-1)),
            outbox_row("start", due=NOW),
            outbox_row("retry", RETRY, due=minutes(30)),
            outbox_row("other", due=minutes(30), customer_id="c2"),
            outbox_row("sent", SENT, due=minutes(30)),
            outbox_row("cancelled", CANCELLED, due=minutes(30)),
            outbox_row("end", due=minutes(60)),
        ],
        [],
        now=NOW,
    )
    window = {"due_from": NOW, "due_to": minutes(60)}
    everyone = await store.open_outbox(**window, customer_ids=None)
    assert sorted(r.key for r in everyone) == ["other", "retry", "start"]
    c1 = await store.open_outbox(**window, customer_ids=["c1"])
    assert sorted(r.key for r in c1) == ["retry", "start"]
    assert await store.open_outbox(**window, customer_ids=[]) == []


async def test_open_outbox_of_other_rules_finds_open_rows_of_removed_rules(
    store: Store,
) -> None:
    await store.write_plan(
        [
            outbox_row("kept", rule_id="reminder"),
            outbox_row("gone", rule_id="old-promo"),
            outbox_row("gone-retry", RETRY, rule_id="old-promo"),
            outbox_row("gone-sent", SENT, rule_id="old-promo"),
        ],
        [],
        now=NOW,
    )
    others = await store.open_outbox_of_other_rules(["reminder"])
    assert sorted(r.key for r in others) == ["gone", "gone-retry"]
    # Every rule removed: every open row is of another rule.
    every = await store.open_outbox_of_other_rules([])
    assert sorted(r.key for r in every) == ["gone", "gone-retry", "kept"]


async def test_open_outbox_without_customer_finds_open_rows_of_customers_gone(
    store: Store,
) -> None:
    await store.upsert_customers([Customer(id="c1")])
    await store.write_plan(
        [
            outbox_row("kept"),
            outbox_row("orphan", customer_id="gone"),
            outbox_row("orphan-retry", RETRY, customer_id="gone"),
            outbox_row("orphan-sent", SENT, customer_id="gone"),
        ],
        [],
        now=NOW,
    )
    found = await store.open_outbox_without_customer()
    assert sorted(r.key for r in found) == ["orphan", "orphan-retry"]


# --- what the dispatcher and operators ask ----------------------------------------------


async def test_next_ready_at_is_the_earliest_pending_or_retry_attempt(
    store: Store,
) -> None:
    assert await store.next_ready_at() is None
    await store.write_plan(
        [
            outbox_row("sent", SENT, due=minutes(-30)),
            outbox_row("cancelled", CANCELLED, due=minutes(-20)),
            outbox_row("pending", due=minutes(30)),
            outbox_row("retry", RETRY, due=minutes(-60), next_attempt=minutes(10)),
        ],
        [],
        now=NOW,
    )
    assert await store.next_ready_at() == minutes(10)


async def seed_for_listing(store: Store) -> None:
    await store.write_plan(
        [
            outbox_row("b", due=minutes(10)),
            outbox_row("a", due=minutes(10)),
            outbox_row("c", FAILED, due=minutes(5), customer_id="c2"),
            outbox_row("d", SENT, due=minutes(20)),
            outbox_row("e", CANCELLED, due=minutes(1), customer_id="c2"),
        ],
        [],
        now=NOW,
    )


async def test_outbox_counts_rows_by_state(store: Store) -> None:
    assert await store.outbox_counts() == {}
    await seed_for_listing(store)
    assert await store.outbox_counts() == {PENDING: 2, FAILED: 1, SENT: 1, CANCELLED: 1}


async def test_list_outbox_orders_by_due_time_then_key(store: Store) -> None:
    await seed_for_listing(store)
    assert [r.key for r in await store.list_outbox()] == ["e", "c", "a", "b", "d"]
    newest = await store.list_outbox(newest_first=True)
    assert [r.key for r in newest] == ["d", "a", "b", "c", "e"]
    assert [r.key for r in await store.list_outbox(limit=2)] == ["e", "c"]


async def test_list_outbox_filters_by_state_and_customer(store: Store) -> None:
    await seed_for_listing(store)
    both = await store.list_outbox(states=[FAILED, CANCELLED])
    assert [r.key for r in both] == ["e", "c"]
    assert [r.key for r in await store.list_outbox(customer_id="c2", states=[FAILED])] == ["c"]
    assert [r.key for r in await store.list_outbox(customer_id="c1")] == ["a", "b", "d"]
    assert await store.list_outbox(customer_id="nobody") == []


async def test_list_outbox_filters_by_rule(store: Store) -> None:
    await seed_for_listing(store)
    other = outbox_row("f", due=minutes(2), rule_id="welcome")
    await store.write_plan([other], [], now=NOW)
    assert [r.key for r in await store.list_outbox(rule_id="welcome")] == ["f"]
    assert [r.key for r in await store.list_outbox(rule_id="reminder", limit=2)] == ["e", "c"]
    assert await store.list_outbox(rule_id="welcome", states=[FAILED]) == []


async def test_list_outbox_pages_by_due_time_and_key_after_the_last_row(store: Store) -> None:
    """A keyset page: what comes after (due time, key), ties broken by key, with filters."""
    await seed_for_listing(store)
    pages, after = [], None
    while page := await store.list_outbox(after=after, limit=2):
        pages.append([r.key for r in page])
        after = (page[-1].due_at, page[-1].key)
    assert pages == [["e", "c"], ["a", "b"], ["d"]]
    assert [r.key for r in await store.list_outbox(after=(minutes(10), "a"))] == ["b", "d"]
    assert [r.key for r in await store.list_outbox(after=(minutes(9), "zz"))] == ["a", "b", "d"]
    past_a = await store.list_outbox(after=(minutes(10), "a"), customer_id="c1", states=[SENT])
    assert [r.key for r in past_a] == ["d"]
    with pytest.raises(ValueError, match="due-time order"):
        await store.list_outbox(after=(minutes(10), "a"), newest_first=True)


# --- requeue ---------------------------------------------------------------------------


async def test_requeue_puts_a_failed_row_back_to_pending_ready_now(
    store: Store,
) -> None:
    failed = outbox_row(
        "k1",
        FAILED,
        due=minutes(-3 * 60),
        expires_at=minutes(-60),
        reason="rejected",
        last_error="554 5.7.1",
        customer_id="c7",
    )
    await store.write_plan([failed], [], now=minutes(-3 * 60))
    got = await store.requeue("k1", now=NOW, keep_for=timedelta(days=1))
    assert got is not None
    assert (got.state, got.reason, got.next_attempt_at, got.expires_at) == (
        PENDING,
        "requeued",
        NOW,
        NOW + timedelta(days=1),
    )
    assert got.due_at == minutes(-3 * 60)  # when it was due stays on record
    assert await one(store, "k1") == got
    assert (await store.pending_changes(limit=10))[1] == {"c7"}  # a running daemon looks
    assert [r.key for r in await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=9)] == ["k1"]


async def test_requeue_keeps_an_expiry_later_than_keep_for(store: Store) -> None:
    await store.write_plan(
        [outbox_row("k1", FAILED, due=minutes(-10), expires_at=NOW + timedelta(days=5))],
        [],
        now=NOW,
    )
    got = await store.requeue("k1", now=NOW, keep_for=timedelta(days=1))
    assert got is not None
    assert got.expires_at == NOW + timedelta(days=5)


@pytest.mark.parametrize("state", [EXPIRED, CANCELLED], ids=lambda s: s.value)
async def test_requeue_also_revives_expired_and_cancelled_rows(
    store: Store, state: OutboxState
) -> None:
    await store.write_plan([outbox_row("k1", state, due=minutes(-10))], [], now=NOW)
    got = await store.requeue("k1", now=NOW, keep_for=timedelta(hours=1))
    assert got is not None
    assert (got.state, got.reason) == (PENDING, "requeued")


@pytest.mark.parametrize("state", [PENDING, SENT, RETRY, SUPPRESSED], ids=lambda s: s.value)
async def test_requeue_leaves_rows_that_are_not_failed_expired_or_cancelled(
    store: Store, state: OutboxState
) -> None:
    row = outbox_row("k1", state, due=minutes(-10), reason="as it was")
    await store.write_plan([row], [], now=NOW)
    before = await one(store, "k1")
    assert await store.requeue("k1", now=minutes(1), keep_for=timedelta(days=1)) == before
    assert await one(store, "k1") == before
    assert await store.pending_changes(limit=10) == (0, set())


async def test_requeue_of_an_unknown_key_is_none(store: Store) -> None:
    assert await store.requeue("nope", now=NOW, keep_for=timedelta(days=1)) is None
