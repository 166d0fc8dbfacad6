"""What every store promises about a touchpoint cancelled by hand (``cancel_by_hand``): only
a pending or retrying row is cancelled, in one conditional write, so a row a dispatcher
claimed is left to be sent, however the two race; a re-plan does not overwrite it and a
re-queue lifts it."""

from __future__ import annotations

import asyncio
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
    claim_one,
    minutes,
    one,
    outbox_row,
)

from touchflow.models import CANCELLED_BY_HAND, OutboxState
from touchflow.store import Store, open_store

WORDS = "cancelled by hand in the console at 2026-11-10 12:05 UTC"


@pytest.mark.parametrize("state", [PENDING, RETRY], ids=lambda s: s.value)
async def test_a_pending_or_retrying_row_is_cancelled_by_hand(
    store: Store, state: OutboxState
) -> None:
    row = outbox_row("k1", state, due=minutes(30), reason="temporary_failure")
    await store.write_plan([row], [], now=NOW)
    before = await one(store, "k1")
    done = await store.cancel_by_hand("k1", now=minutes(5), detail=WORDS)
    assert done is not None and done.cancelled
    assert done.before == before
    assert done.after == dataclasses.replace(
        before, state=CANCELLED, reason=CANCELLED_BY_HAND, last_error=WORDS, updated_at=minutes(5)
    )
    assert done.after.held_by_hand
    assert await one(store, "k1") == done.after
    assert await store.claim_due(owner="w", now=minutes(60), ttl=TTL, limit=9) == []


async def test_cancelling_it_again_changes_nothing_and_says_it_was_not_this_call(
    store: Store,
) -> None:
    await store.write_plan([outbox_row("k1")], [], now=NOW)
    first = await store.cancel_by_hand("k1", now=minutes(5), detail=WORDS)
    again = await store.cancel_by_hand("k1", now=minutes(9), detail="later words")
    assert first is not None and again is not None
    assert (again.cancelled, again.after) == (False, first.after)


async def test_a_claimed_row_is_not_cancelled_and_stays_its_owners(store: Store) -> None:
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1)))
    done = await store.cancel_by_hand("k1", now=NOW, detail=WORDS)
    assert done is not None and not done.cancelled
    assert done.before == done.after == claimed == await one(store, "k1")
    sent = dataclasses.replace(claimed, state=SENT, sent_at=NOW, message_id="<k1@x>")
    assert await store.finish_claim(sent, owner="w", now=NOW, attempted=True)


@pytest.mark.parametrize(
    "state", [SENT, FAILED, EXPIRED, CANCELLED, SUPPRESSED], ids=lambda s: s.value
)
async def test_a_row_that_is_not_open_is_left_as_it_is(store: Store, state: OutboxState) -> None:
    await store.write_plan([outbox_row("k1", state, reason="as it was")], [], now=NOW)
    before = await one(store, "k1")
    done = await store.cancel_by_hand("k1", now=minutes(1), detail=WORDS)
    assert done is not None and not done.cancelled
    assert done.before == done.after == before == await one(store, "k1")


async def test_an_unknown_key_is_none(store: Store) -> None:
    assert await store.cancel_by_hand("nope", now=NOW, detail=WORDS) is None


async def test_a_plan_read_before_the_cancel_does_not_overwrite_it(store: Store) -> None:
    read = outbox_row("k1", due=minutes(30))
    await store.write_plan([read], [], now=NOW)
    await store.cancel_by_hand("k1", now=minutes(1), detail=WORDS)
    moved = dataclasses.replace(read, due_at=minutes(90), next_attempt_at=minutes(90))
    assert await store.write_plan([], [(moved, PENDING)], now=minutes(2)) == (0, 0)
    assert (await one(store, "k1")).held_by_hand


async def test_a_plan_read_while_the_plan_held_it_does_not_undo_a_later_cancel_by_hand(
    store: Store,
) -> None:
    held = dataclasses.replace(
        outbox_row("k1", due=minutes(30)), state=OutboxState.CANCELLED, reason="condition_false"
    )
    await store.write_plan([held], [], now=NOW)
    revived = dataclasses.replace(held, state=OutboxState.PENDING, reason=None)  # as planned
    await store.requeue("k1", now=minutes(1), keep_for=timedelta(days=1))
    await store.cancel_by_hand("k1", now=minutes(2), detail=WORDS)
    # The write names the state it read (cancelled), which the row is in again: by hand.
    await store.write_plan([], [(revived, OutboxState.CANCELLED)], now=minutes(3))
    assert (await one(store, "k1")).held_by_hand


async def test_a_requeue_lifts_it(store: Store) -> None:
    await store.write_plan([outbox_row("k1", due=minutes(-10), customer_id="c7")], [], now=NOW)
    await store.cancel_by_hand("k1", now=NOW, detail=WORDS)
    got = await store.requeue("k1", now=minutes(1), keep_for=timedelta(days=1))
    assert got is not None and (got.state, got.reason) == (PENDING, "requeued")
    assert [r.key for r in await store.claim_due(owner="w", now=minutes(1), ttl=TTL, limit=9)] == [
        "k1"
    ]


async def test_a_cancel_racing_a_claim_on_another_connection_never_both_win(
    store: Store,
) -> None:
    keys = [f"k{i:02}" for i in range(40)]
    await store.write_plan([outbox_row(k, due=minutes(-1)) for k in keys], [], now=NOW)
    async with await open_store(store.location) as other:

        async def cancel_each() -> dict[str, bool]:
            found = {}
            for key in keys:
                done = await other.cancel_by_hand(key, now=NOW, detail=WORDS)
                assert done is not None
                found[key] = done.cancelled
            return found

        async def claim_all() -> set[str]:
            taken: set[str] = set()
            for _ in keys:
                taken |= {
                    r.key for r in await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=2)
                }
            return taken

        cancelled, claimed = await asyncio.gather(cancel_each(), claim_all())
    rows = await store.outbox_by_keys(keys)
    assert {k for k, yes in cancelled.items() if yes} == {
        k for k, r in rows.items() if r.held_by_hand
    }
    assert claimed == {k for k, r in rows.items() if r.state is CLAIMED}
    assert claimed.isdisjoint(k for k, yes in cancelled.items() if yes)
    assert len(claimed) + sum(cancelled.values()) == len(keys)
