"""What every store promises about claims: ready rows claimed oldest first and by one
owner only, outcomes recorded only while the claim is still the owner's, and claims
that time out taken back."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from store_support import (
    CLAIMED,
    FAILED,
    NOW,
    PENDING,
    RETRY,
    SENT,
    TTL,
    after,
    claim_one,
    delivered,
    forget_changes,
    minutes,
    one,
    outbox_row,
    states,
)

from touchflow.channels import Outcome
from touchflow.models import Customer, OutboxState, Suppression, SuppressionScope
from touchflow.store import Finish, Store, open_store

# --- claim_due ------------------------------------------------------------------------


async def test_claim_due_takes_only_ready_rows_oldest_first(store: Store) -> None:
    await store.write_plan(
        [
            outbox_row("pending-late", due=minutes(-10)),
            outbox_row("retry-ready", RETRY, due=minutes(-60), next_attempt=minutes(-20)),
            outbox_row("pending-now", due=NOW),
            outbox_row("pending-future", due=minutes(1)),
            outbox_row("retry-waiting", RETRY, due=minutes(-60), next_attempt=minutes(5)),
            outbox_row("sent", SENT, due=minutes(-30)),
            outbox_row("failed", FAILED, due=minutes(-30)),
            outbox_row("cancelled", OutboxState.CANCELLED, due=minutes(-30)),
            outbox_row("suppressed", OutboxState.SUPPRESSED, due=minutes(-30)),
            outbox_row("expired", OutboxState.EXPIRED, due=minutes(-30)),
        ],
        [],
        now=minutes(-90),
    )
    claimed = await store.claim_due(owner="worker-1", now=NOW, ttl=TTL, limit=10)
    assert [r.key for r in claimed] == ["retry-ready", "pending-late", "pending-now"]
    for r in claimed:
        assert (r.state, r.claim_owner, r.claim_expires_at, r.updated_at) == (
            CLAIMED,
            "worker-1",
            NOW + TTL,
            NOW,
        )
    stored = await store.outbox_by_keys([r.key for r in claimed])
    assert {r.state for r in stored.values()} == {CLAIMED}


async def test_claim_due_respects_the_limit_and_leaves_the_newer_rows(
    store: Store,
) -> None:
    await store.write_plan([outbox_row(f"k{i}", due=minutes(-i)) for i in range(5)], [], now=NOW)
    first = await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=2)
    assert [r.key for r in first] == ["k4", "k3"]
    second = await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=10)
    assert [r.key for r in second] == ["k2", "k1", "k0"]


async def test_a_claimed_row_is_not_claimed_again_even_by_another_connection(
    store: Store,
) -> None:
    await store.write_plan([outbox_row("k1", due=minutes(-1))], [], now=NOW)
    assert [r.key for r in await store.claim_due(owner="a", now=NOW, ttl=TTL, limit=10)] == ["k1"]
    assert await store.claim_due(owner="a", now=minutes(1), ttl=TTL, limit=10) == []
    async with await open_store(store.location) as other:
        assert await other.claim_due(owner="b", now=minutes(1), ttl=TTL, limit=10) == []
    assert (await one(store, "k1")).claim_owner == "a"


# --- finish_claim ---------------------------------------------------------------------


async def test_finish_claim_records_a_send_and_clears_the_claim(store: Store) -> None:
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1)))
    sent = delivered(claimed, Outcome.SENT, at=minutes(1))
    assert await store.finish_claim(sent, owner="w", now=minutes(1), attempted=True)
    got = await one(store, "k1")
    assert (got.state, got.attempts, got.message_id, got.sent_at) == (
        SENT,
        1,
        "<k1@example.com>",
        minutes(1),
    )
    assert (got.claim_owner, got.claim_expires_at, got.updated_at) == (None, None, minutes(1))
    assert (got.reason, got.last_error) == (None, None)


async def test_finish_claim_records_a_retry_with_its_next_attempt(store: Store) -> None:
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1)))
    retry = delivered(claimed, Outcome.RETRY, at=NOW, detail="451 4.3.0 busy")
    assert await store.finish_claim(retry, owner="w", now=NOW, attempted=True)
    got = await one(store, "k1")
    assert (got.state, got.attempts, got.reason, got.last_error) == (
        RETRY,
        1,
        "temporary_failure",
        "451 4.3.0 busy",
    )
    assert got.next_attempt_at == retry.next_attempt_at == NOW + timedelta(seconds=30)
    assert got.sent_at is None


async def test_finish_claim_without_an_attempt_moves_the_row_back_to_pending(
    store: Store,
) -> None:
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1)))
    later = dataclasses.replace(
        claimed, state=PENDING, due_at=minutes(90), next_attempt_at=minutes(90)
    )
    assert await store.finish_claim(later, owner="w", now=NOW, attempted=False)
    got = await one(store, "k1")
    assert (got.state, got.attempts, got.due_at, got.next_attempt_at) == (
        PENDING,
        0,
        minutes(90),
        minutes(90),
    )
    assert await store.next_ready_at() == minutes(90)


async def test_finish_claim_records_the_new_expiry_of_a_row_moved_later(
    store: Store,
) -> None:
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1)))
    later = dataclasses.replace(
        claimed,
        state=PENDING,
        due_at=minutes(90),
        next_attempt_at=minutes(90),
        expires_at=NOW + timedelta(days=3),  # the fresh plan's expiry
    )
    assert await store.finish_claim(later, owner="w", now=NOW, attempted=False)
    assert (await one(store, "k1")).expires_at == NOW + timedelta(days=3)


async def test_finish_claim_of_a_claim_that_is_not_ours_changes_nothing(
    store: Store,
) -> None:
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1)), owner="a")
    sent = delivered(claimed, Outcome.SENT, at=NOW)
    assert not await store.finish_claim(sent, owner="b", now=NOW, attempted=True)
    got = await one(store, "k1")
    assert (got.state, got.claim_owner, got.attempts) == (CLAIMED, "a", 0)


async def test_finish_claim_after_the_claim_was_taken_back_changes_nothing(
    store: Store,
) -> None:
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1)))
    await store.reclaim(now=NOW + TTL)
    sent = delivered(claimed, Outcome.SENT, at=NOW + TTL)
    assert not await store.finish_claim(sent, owner="w", now=NOW + TTL, attempted=True)
    assert (await one(store, "k1")).state is RETRY


async def test_finish_claim_writes_the_bounce_suppression_in_the_same_transaction(
    store: Store,
) -> None:
    await store.upsert_customers(
        [Customer(id="c1", email="Ana@Example.com"), Customer(id="c2", email="bob@example.com")]
    )
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1), to="Ana@Example.com"))
    new, suppression = after(claimed, Outcome.BAD_MAILBOX, at=NOW, detail="550 5.1.1 no such user")
    assert suppression is not None
    await forget_changes(store)
    assert await store.finish_claim(new, owner="w", now=NOW, attempted=True, suppress=suppression)
    assert (await one(store, "k1")).state is FAILED
    assert [(s.email, s.scope.value, s.reason) for s in await store.list_suppressions()] == [
        ("ana@example.com", "all", "bounced: 550 5.1.1 no such user")
    ]
    (facts,) = await store.load_facts(customer_ids=["c1"])
    assert facts.suppressed == frozenset({SuppressionScope.ALL})
    assert (await store.pending_changes(limit=10))[1] == {"c1"}


async def test_a_lost_claim_does_not_write_its_suppression(store: Store) -> None:
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1)), owner="a")
    failed = delivered(claimed, Outcome.BAD_MAILBOX, at=NOW, detail="550 5.1.1")
    bounce = Suppression(email="ana@example.com", scope=SuppressionScope.ALL, created_at=NOW)
    assert not await store.finish_claim(failed, owner="b", now=NOW, attempted=True, suppress=bounce)
    assert await store.list_suppressions() == []


async def test_finish_claims_commits_a_group_and_says_which_claims_were_still_ours(
    store: Store,
) -> None:
    await store.write_plan(
        [
            outbox_row(k, due=minutes(due), customer_id=k)
            for k, due in (("k1", -2), ("k2", -3), ("k3", -1))
        ],
        [],
        now=minutes(-60),
    )
    # k2's claim is taken back and claimed by someone else meanwhile
    (k2,) = await store.claim_due(owner="w", now=NOW, ttl=timedelta(minutes=1), limit=1)
    claimed = {r.key: r for r in await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=3)}
    claimed["k2"] = k2
    assert [r.key for r in await store.reclaim(now=minutes(1))] == ["k2"]
    taken = await store.claim_due(owner="other", now=minutes(1), ttl=TTL, limit=3)
    assert [r.key for r in taken] == ["k2"]
    sent = delivered(claimed["k1"], Outcome.SENT, at=minutes(1))
    other = delivered(claimed["k2"], Outcome.SENT, at=minutes(1))
    retry = delivered(claimed["k3"], Outcome.RETRY, at=minutes(1), detail="451 busy")
    items = [
        Finish(row=sent, attempted=True),
        Finish(row=other, attempted=True),
        Finish(row=retry, attempted=True),
    ]
    assert await store.finish_claims(items, owner="w", now=minutes(1)) == [True, False, True]
    # committed: another connection sees it at once
    async with await open_store(store.location) as elsewhere:
        rows = await elsewhere.outbox_by_keys(["k1", "k2", "k3"])
    assert sorted((r.key, r.state.value, r.attempts, r.message_id) for r in rows.values()) == [
        ("k1", "sent", 1, "<k1@example.com>"),
        ("k2", "claimed", 0, None),
        ("k3", "retry", 1, "<k3@example.com>"),
    ]
    assert await store.finish_claims([], owner="w", now=minutes(1)) == []


async def test_finish_claims_of_many_rows_and_a_bounce_is_one_transaction(
    store: Store,
) -> None:
    keys = [f"k{i:03d}" for i in range(250)]  # more than one statement holds
    await store.write_plan([outbox_row(k, due=minutes(-1)) for k in keys], [], now=minutes(-60))
    claimed = await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=250)
    items = [Finish(row=delivered(r, Outcome.SENT, at=NOW), attempted=True) for r in claimed]
    bounced, suppression = after(
        claimed[0], Outcome.BAD_MAILBOX, at=NOW, detail="550 5.1.1 no such user"
    )
    items[0] = Finish(row=bounced, attempted=True, suppress=suppression)
    assert await store.finish_claims(items, owner="w", now=NOW) == [True] * 250
    assert await states(store) == {k: FAILED if k == "k000" else SENT for k in keys}
    assert [s.email for s in await store.list_suppressions()] == ["ana@example.com"]


# --- reclaim ----------------------------------------------------------------------------


async def test_reclaim_takes_back_only_claims_that_timed_out(store: Store) -> None:
    await store.write_plan(
        [outbox_row("old", due=minutes(-10)), outbox_row("young", due=minutes(-5))],
        [],
        now=minutes(-60),
    )
    await store.claim_due(owner="a", now=NOW, ttl=timedelta(minutes=1), limit=1)
    await store.claim_due(owner="b", now=minutes(0.5), ttl=TTL, limit=1)
    taken = await store.reclaim(now=minutes(1))  # "old"'s claim ends exactly now
    assert [r.key for r in taken] == ["old"]
    old, young = await one(store, "old"), await one(store, "young")
    assert (old.state, old.reason, old.next_attempt_at) == (RETRY, "claim_expired", minutes(1))
    assert (old.claim_owner, old.claim_expires_at, old.updated_at) == (None, None, minutes(1))
    assert (young.state, young.claim_owner) == (CLAIMED, "b")
    assert await store.reclaim(now=minutes(1)) == []


async def test_reclaim_owners_gone_takes_back_claims_of_a_gone_owner_before_their_lease_ends(
    store: Store,
) -> None:
    await store.write_plan(
        [outbox_row("a", due=minutes(-10)), outbox_row("b", due=minutes(-5))], [], now=NOW
    )
    # "dead" holds no lock on the store (no lock file; no instance lock on PostgreSQL).
    await store.claim_due(owner="dead", now=NOW, ttl=timedelta(hours=1), limit=10)
    taken = await store.reclaim(now=minutes(1), owners_gone=True)
    assert sorted(r.key for r in taken) == ["a", "b"]
    assert await states(store) == {"a": RETRY, "b": RETRY}
    assert [r.key for r in await store.claim_due(owner="w", now=minutes(1), ttl=TTL, limit=9)] == [
        "a",
        "b",
    ]


async def test_reclaim_owners_gone_never_counts_me_gone_but_takes_back_my_ended_leases(
    store: Store,
) -> None:
    await store.write_plan(
        [outbox_row(k, due=minutes(-10)) for k in ("mine", "my-forgotten", "dead")],
        [],
        now=minutes(-60),
    )
    await store.claim_due(owner="me", now=NOW, ttl=timedelta(hours=1), limit=1)
    await store.claim_due(owner="me", now=NOW, ttl=timedelta(minutes=1), limit=1)
    await store.claim_due(owner="gone", now=NOW, ttl=timedelta(hours=1), limit=1)
    taken = await store.reclaim(now=minutes(5), owners_gone=True, me="me")
    assert sorted(r.key for r in taken) == ["dead", "my-forgotten"]
    assert (await one(store, "mine")).state is CLAIMED


async def test_reclaim_of_one_owner_takes_back_its_claims_whatever_their_lease(
    store: Store,
) -> None:
    await store.write_plan(
        [outbox_row("mine", due=minutes(-10)), outbox_row("theirs", due=minutes(-5))],
        [],
        now=minutes(-60),
    )
    await store.claim_due(owner="me", now=NOW, ttl=timedelta(hours=1), limit=1)
    await store.claim_due(owner="them", now=NOW, ttl=timedelta(minutes=1), limit=1)
    taken = await store.reclaim(now=minutes(5), owner="me")  # theirs has expired: left
    assert [r.key for r in taken] == ["mine"]
    assert await states(store) == {"mine": RETRY, "theirs": CLAIMED}


async def test_renew_claims_extends_the_lease_of_that_owner_only(store: Store) -> None:
    await store.write_plan(
        [outbox_row("mine", due=minutes(-10)), outbox_row("theirs", due=minutes(-5))],
        [],
        now=minutes(-60),
    )
    await store.claim_due(owner="me", now=NOW, ttl=timedelta(minutes=1), limit=1)
    await store.claim_due(owner="them", now=NOW, ttl=timedelta(minutes=1), limit=1)
    renewed = await store.renew_claims(
        owner="me", keys={"mine", "theirs"}, now=minutes(0.5), ttl=timedelta(minutes=2)
    )
    assert renewed == 1  # "theirs" is not mine to renew
    assert (await one(store, "mine")).claim_expires_at == minutes(2.5)
    taken = await store.reclaim(now=minutes(2))  # mine was renewed, theirs was not
    assert [r.key for r in taken] == ["theirs"]
    assert (await one(store, "mine")).claim_owner == "me"
    assert await store.renew_claims(owner="nobody", keys={"mine"}, now=minutes(2), ttl=TTL) == 0


async def test_renew_claims_renews_only_the_keys_named(store: Store) -> None:
    # What the dispatcher still holds; a claim it forgot (its outcome lost in a server
    # crash) is left to end, and goes back.
    keys = [f"k{i}" for i in range(3)]
    await store.write_plan([outbox_row(k, due=minutes(-10)) for k in keys], [], now=NOW)
    await store.claim_due(owner="me", now=NOW, ttl=timedelta(minutes=1), limit=9)
    assert await store.renew_claims(owner="me", keys={"k0", "k2"}, now=NOW, ttl=TTL) == 2
    taken = await store.reclaim(now=minutes(2))
    assert [r.key for r in taken] == ["k1"]
