"""The outbox in a real SQLite file: plan writes, claims, outcomes, re-queues and changes."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from touchflow.channels import Delivery, Outcome
from touchflow.config.daemon import DaemonSettings
from touchflow.models import (
    Category,
    Customer,
    Event,
    OutboxRow,
    OutboxState,
    SentRecord,
    Suppression,
    SuppressionScope,
)
from touchflow.send.outbox import after_delivery
from touchflow.store.sqlite import SqliteStore
from touchflow.store import Finish

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)
PENDING, RETRY, CLAIMED = OutboxState.PENDING, OutboxState.RETRY, OutboxState.CLAIMED
SENT, FAILED, CANCELLED = OutboxState.SENT, OutboxState.FAILED, OutboxState.CANCELLED
EXPIRED, SUPPRESSED = OutboxState.EXPIRED, OutboxState.SUPPRESSED


def minutes(n: float) -> datetime:
    """``NOW`` plus (or minus) ``n`` minutes."""
    return NOW + timedelta(minutes=n)


def outbox_row(
    key: str,
    state: OutboxState = PENDING,
    *,
    due: datetime = NOW,
    next_attempt: datetime | None = None,
    customer_id: str = "c1",
    rule_id: str = "reminder",
    **kw: object,
) -> OutboxRow:
    values: dict[str, object] = {
        "key": key,
        "rule_id": rule_id,
        "customer_id": customer_id,
        "category": Category.TRANSACTIONAL,
        "counts_for_caps": True,
        "state": state,
        "due_at": due,
        "expires_at": due + timedelta(days=1),
        "next_attempt_at": next_attempt or due,
        "to": "ana@example.com",
    }
    values.update(kw)
    return OutboxRow(**values)  # type: ignore[arg-type]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "touchflow.db"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(path) as opened:
        yield opened


def raw_rows(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql, params).fetchall()


async def one(store: SqliteStore, key: str) -> OutboxRow:
    return (await store.outbox_by_keys([key]))[key]


async def states(store: SqliteStore) -> dict[str, OutboxState]:
    return {r.key: r.state for r in await store.list_outbox()}


async def changed_customers(path: Path) -> list[str]:
    return [str(r[0]) for r in raw_rows(path, "SELECT customer_id FROM changes ORDER BY seq")]


def delivered(row: OutboxRow, outcome: Outcome, *, at: datetime, detail: str = "") -> OutboxRow:
    new, _ = after_delivery(
        row,
        Delivery(outcome=outcome, detail=detail),
        now=at,
        message_id=f"<{row.key}@example.com>",
        settings=DaemonSettings(),
        jitter=0.0,
    )
    return new


async def send_at(
    store: SqliteStore, row: OutboxRow, at: datetime, *, late: timedelta = timedelta(0)
) -> None:
    """Plan ``row`` due at ``at``, claim it ``late`` after that and record it as sent."""
    await store.write_plan([dataclasses.replace(row, due_at=at, next_attempt_at=at)], [], now=at)
    at += late
    (claimed,) = await store.claim_due(owner="w", now=at, ttl=TTL, limit=10)
    assert claimed.key == row.key
    assert await store.finish_claim(
        delivered(claimed, Outcome.SENT, at=at), owner="w", now=at, attempted=True
    )


# --- write_plan --------------------------------------------------------------------------


async def test_write_plan_inserts_new_rows_with_their_times(store: SqliteStore) -> None:
    row = outbox_row("k1", due=minutes(30), expires_at=minutes(90), reason=None)
    assert await store.write_plan([row], [], now=NOW) == (1, 0)
    got = await one(store, "k1")
    assert dataclasses.replace(got, created_at=None, updated_at=None) == row
    assert (got.created_at, got.updated_at) == (NOW, NOW)


async def test_write_plan_does_not_overwrite_a_key_that_is_already_there(
    store: SqliteStore,
) -> None:
    await store.write_plan([outbox_row("k1", SENT)], [], now=NOW)
    assert await store.write_plan([outbox_row("k1", PENDING)], [], now=minutes(1)) == (0, 0)
    assert (await one(store, "k1")).state is SENT


async def test_write_plan_updates_a_row_still_in_the_state_it_was_read_in(
    store: SqliteStore,
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
    store: SqliteStore,
) -> None:
    await store.write_plan([outbox_row("k1", due=minutes(-1))], [], now=NOW)
    # The planner read it pending; a dispatcher claimed it before the plan was written.
    await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=10)
    cancelled = outbox_row("k1", CANCELLED, reason="cancelled", last_error="cancel event")
    assert await store.write_plan([], [(cancelled, PENDING)], now=minutes(1)) == (0, 0)
    got = await one(store, "k1")
    assert (got.state, got.reason, got.claim_owner) == (CLAIMED, None, "w")


async def test_inserts_and_updates_are_written_in_one_transaction(store: SqliteStore) -> None:
    await store.write_plan([outbox_row("k1")], [], now=NOW)
    inserted, updated = await store.write_plan(
        [outbox_row("k2"), outbox_row("k3")],
        [(outbox_row("k1", CANCELLED, reason="cancelled"), PENDING)],
        now=minutes(1),
    )
    assert (inserted, updated) == (2, 1)
    assert await states(store) == {"k1": CANCELLED, "k2": PENDING, "k3": PENDING}


async def test_outbox_by_keys_finds_keys_in_chunks_and_skips_unknown_ones(
    store: SqliteStore,
) -> None:
    rows = [outbox_row(f"k{i:04d}") for i in range(1200)]  # more than one IN (...) chunk
    await store.write_plan(rows, [], now=NOW)
    found = await store.outbox_by_keys([*(r.key for r in rows), "nope"])
    assert sorted(found) == [r.key for r in rows]
    assert await store.outbox_by_keys([]) == {}


async def test_open_outbox_is_pending_and_retry_rows_due_in_the_window(
    store: SqliteStore,
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
    store: SqliteStore,
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


# --- claim_due ------------------------------------------------------------------------


async def test_claim_due_takes_only_ready_rows_oldest_first(store: SqliteStore) -> None:
    await store.write_plan(
        [
            outbox_row("pending-late", due=minutes(-10)),
            outbox_row("retry-ready", RETRY, due=minutes(-60), next_attempt=minutes(-20)),
            outbox_row("pending-now", due=NOW),
            outbox_row("pending-future", due=minutes(1)),
            outbox_row("retry-waiting", RETRY, due=minutes(-60), next_attempt=minutes(5)),
            outbox_row("sent", SENT, due=minutes(-30)),
            outbox_row("failed", FAILED, due=minutes(-30)),
            outbox_row("cancelled", CANCELLED, due=minutes(-30)),
            outbox_row("suppressed", SUPPRESSED, due=minutes(-30)),
            outbox_row("expired", EXPIRED, due=minutes(-30)),
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
    store: SqliteStore,
) -> None:
    await store.write_plan([outbox_row(f"k{i}", due=minutes(-i)) for i in range(5)], [], now=NOW)
    first = await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=2)
    assert [r.key for r in first] == ["k4", "k3"]
    second = await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=10)
    assert [r.key for r in second] == ["k2", "k1", "k0"]


async def test_a_claimed_row_is_not_claimed_again_even_by_another_connection(
    store: SqliteStore, path: Path
) -> None:
    await store.write_plan([outbox_row("k1", due=minutes(-1))], [], now=NOW)
    assert [r.key for r in await store.claim_due(owner="a", now=NOW, ttl=TTL, limit=10)] == ["k1"]
    assert await store.claim_due(owner="a", now=minutes(1), ttl=TTL, limit=10) == []
    async with await SqliteStore.open(path) as other:
        assert await other.claim_due(owner="b", now=minutes(1), ttl=TTL, limit=10) == []
    assert (await one(store, "k1")).claim_owner == "a"


# --- finish_claim ---------------------------------------------------------------------


async def claim_one(store: SqliteStore, row: OutboxRow, *, owner: str = "w") -> OutboxRow:
    await store.write_plan([row], [], now=minutes(-60))
    (claimed,) = await store.claim_due(owner=owner, now=NOW, ttl=TTL, limit=1)
    return claimed


async def test_finish_claim_records_a_send_and_clears_the_claim(store: SqliteStore) -> None:
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


async def test_finish_claim_records_a_retry_with_its_next_attempt(store: SqliteStore) -> None:
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
    store: SqliteStore,
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
    store: SqliteStore,
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
    store: SqliteStore,
) -> None:
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1)), owner="a")
    sent = delivered(claimed, Outcome.SENT, at=NOW)
    assert not await store.finish_claim(sent, owner="b", now=NOW, attempted=True)
    got = await one(store, "k1")
    assert (got.state, got.claim_owner, got.attempts) == (CLAIMED, "a", 0)


async def test_finish_claim_after_the_claim_was_taken_back_changes_nothing(
    store: SqliteStore,
) -> None:
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1)))
    await store.reclaim(now=NOW + TTL)
    sent = delivered(claimed, Outcome.SENT, at=NOW + TTL)
    assert not await store.finish_claim(sent, owner="w", now=NOW + TTL, attempted=True)
    assert (await one(store, "k1")).state is RETRY


async def test_finish_claim_writes_the_bounce_suppression_in_the_same_transaction(
    store: SqliteStore, path: Path
) -> None:
    await store.upsert_customers(
        [Customer(id="c1", email="Ana@Example.com"), Customer(id="c2", email="bob@example.com")]
    )
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1), to="Ana@Example.com"))
    new, suppression = after_delivery(
        claimed,
        Delivery(outcome=Outcome.BAD_MAILBOX, detail="550 5.1.1 no such user"),
        now=NOW,
        message_id="<k1@example.com>",
        settings=DaemonSettings(),
        jitter=0.0,
    )
    assert suppression is not None
    await store.drop_changes((await store.pending_changes(limit=10))[0])
    assert await store.finish_claim(new, owner="w", now=NOW, attempted=True, suppress=suppression)
    assert (await one(store, "k1")).state is FAILED
    assert raw_rows(path, "SELECT email, scope, reason FROM suppressions") == [
        ("ana@example.com", "all", "bounced: 550 5.1.1 no such user")
    ]
    (facts,) = await store.load_facts(customer_ids=["c1"])
    assert facts.suppressed == frozenset({SuppressionScope.ALL})
    assert await changed_customers(path) == ["c1"]


async def test_a_lost_claim_does_not_write_its_suppression(store: SqliteStore, path: Path) -> None:
    claimed = await claim_one(store, outbox_row("k1", due=minutes(-1)), owner="a")
    failed = delivered(claimed, Outcome.BAD_MAILBOX, at=NOW, detail="550 5.1.1")
    bounce = Suppression(email="ana@example.com", scope=SuppressionScope.ALL, created_at=NOW)
    assert not await store.finish_claim(failed, owner="b", now=NOW, attempted=True, suppress=bounce)
    assert raw_rows(path, "SELECT * FROM suppressions") == []


async def test_finish_claims_commits_a_group_and_says_which_claims_were_still_ours(
    store: SqliteStore, path: Path
) -> None:
    await store.write_plan(
        [outbox_row(k, due=minutes(-1), customer_id=k) for k in ("k1", "k2", "k3")],
        [],
        now=minutes(-60),
    )
    claimed = {r.key: r for r in await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=3)}
    # k2's claim is taken back and claimed by someone else meanwhile
    raw_update(path, "UPDATE outbox SET claim_owner = 'other' WHERE key = 'k2'")
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
    assert raw_rows(path, "SELECT key, state, attempts, message_id FROM outbox ORDER BY key") == [
        ("k1", "sent", 1, "<k1@example.com>"),
        ("k2", "claimed", 0, None),
        ("k3", "retry", 1, "<k3@example.com>"),
    ]
    assert await store.finish_claims([], owner="w", now=minutes(1)) == []


async def test_finish_claims_of_many_rows_and_a_bounce_is_one_transaction(
    store: SqliteStore, path: Path
) -> None:
    keys = [f"k{i:03d}" for i in range(250)]  # more than one statement holds
    await store.write_plan([outbox_row(k, due=minutes(-1)) for k in keys], [], now=minutes(-60))
    claimed = await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=250)
    items = [Finish(row=delivered(r, Outcome.SENT, at=NOW), attempted=True) for r in claimed]
    bounced, suppression = after_delivery(
        claimed[0],
        Delivery(outcome=Outcome.BAD_MAILBOX, detail="550 5.1.1 no such user"),
        now=NOW,
        message_id="<k000@example.com>",
        settings=DaemonSettings(),
        jitter=0.0,
    )
    items[0] = Finish(row=bounced, attempted=True, suppress=suppression)
    assert await store.finish_claims(items, owner="w", now=NOW) == [True] * 250
    assert await states(store) == {k: FAILED if k == "k000" else SENT for k in keys}
    assert raw_rows(path, "SELECT email FROM suppressions") == [("ana@example.com",)]


def raw_update(path: Path, sql: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(sql)


# --- reclaim and next_ready_at ----------------------------------------------------------


async def test_reclaim_takes_back_only_claims_that_timed_out(store: SqliteStore) -> None:
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


async def test_reclaim_every_claim_takes_back_claims_that_have_not_timed_out(
    store: SqliteStore,
) -> None:
    await store.write_plan(
        [outbox_row("a", due=minutes(-10)), outbox_row("b", due=minutes(-5))], [], now=NOW
    )
    await store.claim_due(owner="dead", now=NOW, ttl=timedelta(hours=1), limit=10)
    taken = await store.reclaim(now=minutes(1), every_claim=True)
    assert sorted(r.key for r in taken) == ["a", "b"]
    assert await states(store) == {"a": RETRY, "b": RETRY}
    assert [r.key for r in await store.claim_due(owner="w", now=minutes(1), ttl=TTL, limit=9)] == [
        "a",
        "b",
    ]


async def test_next_ready_at_is_the_earliest_pending_or_retry_attempt(
    store: SqliteStore,
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


# --- what operators ask -----------------------------------------------------------------


async def seed_for_listing(store: SqliteStore) -> None:
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


async def test_outbox_counts_rows_by_state(store: SqliteStore) -> None:
    assert await store.outbox_counts() == {}
    await seed_for_listing(store)
    assert await store.outbox_counts() == {PENDING: 2, FAILED: 1, SENT: 1, CANCELLED: 1}


async def test_list_outbox_orders_by_due_time_then_key(store: SqliteStore) -> None:
    await seed_for_listing(store)
    assert [r.key for r in await store.list_outbox()] == ["e", "c", "a", "b", "d"]
    newest = await store.list_outbox(newest_first=True)
    assert [r.key for r in newest] == ["d", "a", "b", "c", "e"]
    assert [r.key for r in await store.list_outbox(limit=2)] == ["e", "c"]


async def test_list_outbox_filters_by_state_and_customer(store: SqliteStore) -> None:
    await seed_for_listing(store)
    both = await store.list_outbox(states=[FAILED, CANCELLED])
    assert [r.key for r in both] == ["e", "c"]
    assert [r.key for r in await store.list_outbox(customer_id="c2", states=[FAILED])] == ["c"]
    assert [r.key for r in await store.list_outbox(customer_id="c1")] == ["a", "b", "d"]
    assert await store.list_outbox(customer_id="nobody") == []


# --- requeue ---------------------------------------------------------------------------


async def test_requeue_puts_a_failed_row_back_to_pending_ready_now(
    store: SqliteStore, path: Path
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
    assert await changed_customers(path) == ["c7"]
    assert [r.key for r in await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=9)] == ["k1"]


async def test_requeue_keeps_an_expiry_later_than_keep_for(store: SqliteStore) -> None:
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
    store: SqliteStore, state: OutboxState
) -> None:
    await store.write_plan([outbox_row("k1", state, due=minutes(-10))], [], now=NOW)
    got = await store.requeue("k1", now=NOW, keep_for=timedelta(hours=1))
    assert got is not None
    assert (got.state, got.reason) == (PENDING, "requeued")


@pytest.mark.parametrize("state", [PENDING, SENT, RETRY, SUPPRESSED], ids=lambda s: s.value)
async def test_requeue_leaves_rows_that_are_not_failed_expired_or_cancelled(
    store: SqliteStore, path: Path, state: OutboxState
) -> None:
    row = outbox_row("k1", state, due=minutes(-10), reason="as it was")
    await store.write_plan([row], [], now=NOW)
    before = await one(store, "k1")
    assert await store.requeue("k1", now=minutes(1), keep_for=timedelta(days=1)) == before
    assert await one(store, "k1") == before
    assert await changed_customers(path) == []


async def test_requeue_of_an_unknown_key_is_none(store: SqliteStore) -> None:
    assert await store.requeue("nope", now=NOW, keep_for=timedelta(days=1)) is None


# --- changes: which customers to plan again --------------------------------------------


async def test_inserting_and_updating_customers_records_changes(
    store: SqliteStore, path: Path
) -> None:
    await store.upsert_customers([Customer(id="c1"), Customer(id="c2")])
    await store.upsert_customers([Customer(id="c1", first_name="Ana")])
    assert await changed_customers(path) == ["c1", "c2", "c1"]


async def test_a_new_event_records_a_change_and_a_duplicate_does_not(
    store: SqliteStore, path: Path
) -> None:
    first = Event(id="e1", type="order", customer_id="c9", at=NOW)
    assert await store.add_events([first]) == (1, 0)
    assert await store.add_events([first, dataclasses.replace(first, id="e2")]) == (1, 1)
    assert await changed_customers(path) == ["c9", "c9"]


async def test_a_suppression_records_a_change_for_every_customer_with_that_email(
    store: SqliteStore, path: Path
) -> None:
    await store.upsert_customers(
        [
            Customer(id="c1", email="Ana@Example.com"),
            Customer(id="c2", email="ana@example.com"),
            Customer(id="c3", email="bob@example.com"),
            Customer(id="c4"),
        ]
    )
    await store.drop_changes((await store.pending_changes(limit=100))[0])
    await store.add_suppression(
        Suppression(email=" ANA@example.COM ", scope=SuppressionScope.MARKETING)
    )
    assert sorted(await changed_customers(path)) == ["c1", "c2"]


async def test_pending_changes_names_each_changed_customer_once(store: SqliteStore) -> None:
    assert await store.pending_changes(limit=10) == (0, set())
    await store.upsert_customers([Customer(id="c1"), Customer(id="c2")])
    await store.add_events([Event(id="e1", type="order", customer_id="c1", at=NOW)])
    last, ids = await store.pending_changes(limit=2)
    assert (last, ids) == (3, {"c1", "c2"})


async def test_pending_changes_says_plan_everyone_when_more_than_the_limit_changed(
    store: SqliteStore,
) -> None:
    await store.upsert_customers([Customer(id=f"c{i}") for i in range(3)])
    assert await store.pending_changes(limit=2) == (3, None)


async def test_drop_changes_forgets_only_what_was_seen(store: SqliteStore) -> None:
    await store.upsert_customers([Customer(id="c1"), Customer(id="c2")])
    seen, _ = await store.pending_changes(limit=10)
    await store.upsert_customers([Customer(id="c3")])  # arrives while planning
    await store.drop_changes(seen)
    assert await store.pending_changes(limit=10) == (3, {"c3"})
    await store.drop_changes(3)
    assert await store.pending_changes(limit=10) == (0, set())


# --- load_facts(sent_since=...) ---------------------------------------------------------


def promo(key: str, **kw: object) -> OutboxRow:
    return outbox_row(key, rule_id="promo", category=Category.MARKETING, **kw)


async def test_load_facts_brings_sends_that_count_for_caps_since_the_given_instant(
    store: SqliteStore,
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


async def test_a_send_that_went_out_late_counts_for_caps_at_its_due_time(
    store: SqliteStore,
) -> None:
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


# --- the version-1 store ---------------------------------------------------------------

# touchflow/store/schema.sql as released with schema version 1.
V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

INSERT INTO meta (key, value) VALUES ('schema_version', '1')
    ON CONFLICT (key) DO NOTHING;

CREATE TABLE IF NOT EXISTS customers (
    id                TEXT PRIMARY KEY,
    email             TEXT,
    phone             TEXT,
    first_name        TEXT,
    last_name         TEXT,
    timezone          TEXT,
    locale            TEXT,
    country           TEXT,
    birthday          TEXT,
    customer_since    TEXT,
    consent_marketing INTEGER NOT NULL DEFAULT 0,
    attributes        TEXT NOT NULL DEFAULT '{}',
    birthday_md       TEXT,
    since_md          TEXT
);

CREATE INDEX IF NOT EXISTS customers_birthday_md ON customers (birthday_md);
CREATE INDEX IF NOT EXISTS customers_since_md ON customers (since_md);

CREATE TABLE IF NOT EXISTS events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    at          TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS events_customer_at ON events (customer_id, at);
CREATE INDEX IF NOT EXISTS events_type_at ON events (type, at);

CREATE TABLE IF NOT EXISTS suppressions (
    email      TEXT NOT NULL,
    scope      TEXT NOT NULL,
    reason     TEXT,
    created_at TEXT,
    PRIMARY KEY (email, scope)
);
"""


def make_v1_store(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        db.execute(
            "INSERT INTO customers (id, email, first_name, birthday, birthday_md, attributes) "
            "VALUES ('c1', 'Ana@Example.com', 'Ana', '1990-11-10', '11-10', '{\"tier\":\"gold\"}')"
        )
        db.execute(
            "INSERT INTO events (id, type, customer_id, at, data) VALUES "
            "('e1', 'order', 'c1', '2026-11-01T10:00:00.000000Z', '{\"total\":12}')"
        )
        db.execute(
            "INSERT INTO suppressions (email, scope) VALUES ('ana@example.com', 'marketing')"
        )
    db.close()


async def test_a_version_1_store_is_upgraded_in_place_keeping_its_data(path: Path) -> None:
    make_v1_store(path)
    async with await SqliteStore.open(path) as store:
        assert await store.get_meta("schema_version") == "3"
        (facts,) = await store.load_facts(sent_since=NOW)
        assert (facts.customer.id, facts.customer.first_name) == ("c1", "Ana")
        assert facts.customer.attributes == {"tier": "gold"}
        assert [(e.id, dict(e.data)) for e in facts.events] == [("e1", {"total": 12})]
        assert facts.suppressed == frozenset({SuppressionScope.MARKETING})
        assert facts.sent == ()
        # The new tables and triggers work on the upgraded file.
        assert await store.write_plan([outbox_row("k1")], [], now=NOW) == (1, 0)
        await store.upsert_customers([Customer(id="c2")])
        assert await store.pending_changes(limit=10) == (1, {"c2"})
    indexes = {str(r[0]) for r in raw_rows(path, "SELECT name FROM sqlite_master")}
    assert {"outbox", "changes", "customers_email", "outbox_ready"} <= indexes
    # Opening it again is a no-op: still version 3, data and outbox kept.
    async with await SqliteStore.open(path) as again:
        assert await again.get_meta("schema_version") == "3"
        assert list(await again.outbox_by_keys(["k1"])) == ["k1"]
        assert await again.customer_count() == 2


async def test_a_version_2_store_gets_created_at_and_its_customers_keep_none(path: Path) -> None:
    async with await SqliteStore.open(path) as store:
        await store.upsert_customers([Customer(id="c1", first_name="Ana")], now=NOW)
    # A version 2 file: the same schema without customers.created_at.
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE customers DROP COLUMN created_at")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()
    async with await SqliteStore.open(path) as store:
        assert await store.get_meta("schema_version") == "3"
        # When c1 came is not known: None, so the planner leaves nothing of theirs out.
        await store.upsert_customers([Customer(id="c1", first_name="Ana B.")], now=NOW)
        await store.upsert_customers([Customer(id="c2")], now=NOW)
        facts = await store.load_facts()
        assert [(f.customer.id, f.customer.created_at) for f in facts] == [
            ("c1", None),
            ("c2", NOW),
        ]
    async with await SqliteStore.open(path) as again:  # upgraded once: opening is a no-op
        assert await again.get_meta("schema_version") == "3"
        assert await again.customer_count() == 2


async def test_reclaim_leaves_the_claims_of_the_named_owner(store: SqliteStore) -> None:
    await store.write_plan(
        [outbox_row("mine", due=minutes(-10)), outbox_row("dead", due=minutes(-5))],
        [],
        now=minutes(-60),
    )
    await store.claim_due(owner="me", now=NOW, ttl=timedelta(minutes=1), limit=1)
    await store.claim_due(owner="gone", now=NOW, ttl=timedelta(minutes=1), limit=1)
    taken = await store.reclaim(now=minutes(5), except_owner="me")
    assert [r.key for r in taken] == ["dead"]
    assert (await one(store, "mine")).state is CLAIMED


async def test_reimporting_an_unchanged_customer_records_no_change(
    store: SqliteStore, path: Path
) -> None:
    ana = Customer(id="c1", email="ana@example.com", first_name="Ana")
    await store.upsert_customers([ana])
    await store.upsert_customers([ana])  # a nightly full re-import
    assert await changed_customers(path) == ["c1"]
    await store.upsert_customers([Customer(id="c1", email="ana@example.com", first_name="Anna")])
    assert await changed_customers(path) == ["c1", "c1"]
