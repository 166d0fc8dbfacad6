"""What every store promises about the counts /metrics and `touchflow status` read: by
state and rule, the backlog due now, the last send, reasons, and trouble worth a word."""

from __future__ import annotations

from datetime import timedelta

from store_support import (
    CANCELLED,
    FAILED,
    NOW,
    PENDING,
    RETRY,
    SENT,
    delivered,
    minutes,
    outbox_row,
    send_at,
)

from touchflow.channels import Outcome
from touchflow.models import OutboxState
from touchflow.store import Store


async def test_outbox_counts_by_rule_name_every_state_and_rule_that_has_rows(store: Store) -> None:
    assert await store.outbox_counts_by_rule() == []
    await store.write_plan(
        [
            outbox_row("a1", rule_id="a"),
            outbox_row("a2", rule_id="a"),
            outbox_row("a3", SENT, rule_id="a"),
            outbox_row("b1", rule_id="b"),
        ],
        [],
        now=NOW,
    )
    assert sorted(await store.outbox_counts_by_rule()) == [
        (PENDING, "a", 2), (PENDING, "b", 1), (SENT, "a", 1),
    ]  # fmt: skip


async def test_the_ready_count_is_pending_and_retrying_rows_whose_time_has_come(
    store: Store,
) -> None:
    await store.write_plan(
        [
            outbox_row("due", due=minutes(-5)),
            outbox_row("now", due=NOW),
            outbox_row("later", due=minutes(5)),
            outbox_row("retry-ready", RETRY, due=minutes(-30), next_attempt=minutes(-1)),
            outbox_row("retry-waiting", RETRY, due=minutes(-30), next_attempt=minutes(1)),
            outbox_row("failed", FAILED, due=minutes(-30)),
        ],
        [],
        now=minutes(-60),
    )
    assert await store.outbox_ready_count(NOW) == 3
    assert await store.outbox_ready_count(minutes(10)) == 5


async def test_last_sent_at_is_the_latest_send(store: Store) -> None:
    assert await store.last_sent_at() is None
    await send_at(store, outbox_row("k1"), minutes(-30), late=timedelta(minutes=2))
    await send_at(store, outbox_row("k2"), minutes(-60))
    assert await store.last_sent_at() == minutes(-28)


async def test_reason_counts_are_rows_held_failed_expired_or_retrying_by_reason(
    store: Store,
) -> None:
    await store.write_plan(
        [
            outbox_row("c1", CANCELLED, reason="cancelled"),
            outbox_row("c2", CANCELLED, reason="cancelled"),
            outbox_row("s1", OutboxState.SUPPRESSED, reason="suppressed_marketing"),
            outbox_row("f1", FAILED, reason="rejected"),
            outbox_row("r1", RETRY, reason="temporary_failure"),
            outbox_row("p1", PENDING, reason="moved"),  # not held: not counted
            outbox_row("f2", FAILED),  # no reason: not counted
        ],
        [],
        now=NOW,
    )
    assert sorted(await store.outbox_reason_counts()) == [
        (CANCELLED, "cancelled", 2),
        (FAILED, "rejected", 1),
        (RETRY, "temporary_failure", 1),
        (OutboxState.SUPPRESSED, "suppressed_marketing", 1),
    ]


async def test_trouble_is_recent_rows_held_for_a_named_reason_and_rows_retrying_long(
    store: Store,
) -> None:
    since = minutes(-60)
    await store.write_plan(
        [
            outbox_row("x1", CANCELLED, due=minutes(-10), reason="bad_address", customer_id="a"),
            outbox_row("x2", FAILED, due=minutes(-20), reason="bad_address", customer_id="a"),
            outbox_row("x3", CANCELLED, due=minutes(-30), reason="bad_address", customer_id="b"),
            outbox_row("old", CANCELLED, due=minutes(-90), reason="bad_address"),
            outbox_row("other", CANCELLED, due=minutes(-10), reason="cancelled"),
        ],
        [],
        now=minutes(-120),
    )
    trouble = await store.outbox_trouble(since=since, reasons=("bad_address", "x"), retries=2)
    assert trouble == [("bad_address", 3, 2)]  # no row retrying: no "retry" line

    await store.write_plan([outbox_row("r", due=minutes(-5), customer_id="c")], [], now=since)
    for attempt in range(2):
        ttl = timedelta(minutes=5)
        (claimed,) = await store.claim_due(owner="w", now=minutes(attempt), ttl=ttl, limit=1)
        retry = delivered(claimed, Outcome.RETRY, at=minutes(attempt))
        assert await store.finish_claim(retry, owner="w", now=minutes(attempt), attempted=True)
    assert await store.outbox_trouble(since=since, reasons=("x",), retries=2) == [("retry", 1, 1)]
    assert await store.outbox_trouble(since=since, reasons=("x",), retries=3) == []


async def test_trouble_for_the_reasons_the_daemon_asks_about(store: Store) -> None:
    since = minutes(-60)
    rows = [
        outbox_row("h1", CANCELLED, due=minutes(-10), reason="invalid_data", customer_id="a"),
        outbox_row("h2", CANCELLED, due=minutes(30), reason="invalid_data", customer_id="a"),
        outbox_row("f1", FAILED, due=minutes(-5), reason="rejected", customer_id="b"),
        outbox_row("f2", FAILED, due=minutes(-5), reason="render_error", customer_id="c"),
        outbox_row("old", FAILED, due=minutes(-90), reason="rejected", customer_id="d"),
        outbox_row("gone", CANCELLED, due=minutes(-5), reason="not_planned", customer_id="e"),
    ]
    await store.write_plan(rows, [], now=minutes(-120))
    reasons = ("invalid_data", "render_error", "invalid_message", "rejected")
    found = await store.outbox_trouble(since=since, reasons=reasons, retries=3)
    assert sorted(found) == [("invalid_data", 2, 1), ("rejected", 1, 1), ("render_error", 1, 1)]
    assert await store.outbox_trouble(since=since, reasons=("rejected",), retries=3) == [
        ("rejected", 1, 1)
    ]


async def test_failed_count_counts_failed_rows_due_since(store: Store) -> None:
    assert await store.failed_count(since=minutes(-60)) == 0
    await store.write_plan(
        [
            outbox_row("old", OutboxState.FAILED, due=minutes(-120)),
            outbox_row("new", OutboxState.FAILED, due=minutes(-30)),
            outbox_row("sent", OutboxState.SENT, due=minutes(-30)),
        ],
        [],
        now=NOW,
    )
    assert await store.failed_count(since=minutes(-60)) == 1
    assert await store.failed_count(since=minutes(-180)) == 2


async def test_no_daemon_holds_a_fresh_store(store: Store) -> None:
    assert await store.daemon_sessions() == []
