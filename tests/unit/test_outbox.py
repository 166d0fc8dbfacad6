"""The outbox's rules as pure functions: plan → rows, rows → writes, delivery → next state.

No store and no clock: every test hands in the rows as the store would read them
and ``NOW``, and checks what the daemon would write.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import utc

from touchflow.channels import Delivery, Outcome
from touchflow.config.daemon import DaemonSettings
from touchflow.models import (
    Category,
    HoldReason,
    OutboxRow,
    OutboxState,
    PlannedTouchpoint,
    Status,
    Suppression,
    SuppressionScope,
)
from touchflow.send.outbox import (
    Close,
    PlanWrites,
    Send,
    after_delivery,
    backoff,
    desired_rows,
    plan_writes,
    verdict,
)

NOW = utc("2026-11-10T12:00:00Z")
DUE = utc("2026-11-11T09:00:00Z")
KEY = "reminder:c1:a1:24h-before"
SETTINGS = DaemonSettings(retry_first=timedelta(minutes=1), retry_max=timedelta(hours=1))


def touchpoint(
    *,
    key: str = KEY,
    rule_id: str = "reminder",
    due: datetime = DUE,
    expires: datetime | None = None,
    reason: HoldReason | None = None,
    detail: str | None = None,
    to: str | None = "ana@example.com",
    category: Category = Category.TRANSACTIONAL,
) -> PlannedTouchpoint:
    return PlannedTouchpoint(
        key=key,
        rule_id=rule_id,
        customer_id="c1",
        occurrence="a1",
        channel="email",
        template="t",
        category=category,
        priority=0,
        due_at=due,
        timezone="UTC",
        status=Status.PLANNED if reason is None else Status.HELD,
        reason=reason,
        detail=detail,
        to=to,
        expires_at=expires if expires is not None else due + timedelta(hours=24),
    )


def held(reason: HoldReason, detail: str = "because", **kw: object) -> PlannedTouchpoint:
    return touchpoint(reason=reason, detail=detail, **kw)  # type: ignore[arg-type]


def row(
    state: OutboxState = OutboxState.PENDING,
    *,
    key: str = KEY,
    due: datetime = DUE,
    expires: datetime | None = None,
    next_attempt: datetime | None = None,
    **kw: object,
) -> OutboxRow:
    values: dict[str, object] = {
        "key": key,
        "rule_id": "reminder",
        "customer_id": "c1",
        "category": Category.TRANSACTIONAL,
        "counts_for_caps": False,
        "state": state,
        "due_at": due,
        "expires_at": expires if expires is not None else due + timedelta(hours=24),
        "next_attempt_at": next_attempt if next_attempt is not None else due,
        "to": "ana@example.com",
    }
    values.update(kw)
    return OutboxRow(**values)  # type: ignore[arg-type]


def desired(*tps: PlannedTouchpoint) -> list[OutboxRow]:
    return desired_rows(tps, {"reminder": False})


def replan(
    tps: list[PlannedTouchpoint] | tuple[PlannedTouchpoint, ...],
    *existing: OutboxRow,
    vanished: tuple[tuple[OutboxRow, str, str], ...] = (),
    now: datetime = NOW,
) -> PlanWrites:
    return plan_writes(desired(*tps), {r.key: r for r in existing}, vanished, now=now)


def nothing(writes: PlanWrites) -> bool:
    return not (writes.inserts or writes.updates or writes.transitions)


def the_update(writes: PlanWrites) -> tuple[OutboxRow, OutboxState]:
    assert not writes.inserts
    assert len(writes.updates) == 1, writes.updates
    return writes.updates[0]


# --- desired_rows: the outbox as the plan would have it ---------------------------------


def test_a_planned_touchpoint_becomes_a_pending_row_ready_at_its_due_time() -> None:
    expires = DUE + timedelta(hours=6)
    (got,) = desired(touchpoint(expires=expires))
    assert got.state is OutboxState.PENDING
    assert (got.due_at, got.next_attempt_at, got.expires_at) == (DUE, DUE, expires)
    assert (got.reason, got.last_error, got.attempts) == (None, None, 0)
    assert (got.key, got.rule_id, got.customer_id, got.to) == (
        KEY,
        "reminder",
        "c1",
        "ana@example.com",
    )


def test_a_touchpoint_without_an_expiry_lives_a_day_after_it_is_due() -> None:
    tp = dataclasses.replace(touchpoint(), expires_at=None)
    (got,) = desired(tp)
    assert got.expires_at == DUE + timedelta(days=1)


@pytest.mark.parametrize(
    "reason", [HoldReason.SUPPRESSED, HoldReason.NO_CONSENT, HoldReason.NO_ADDRESS]
)
def test_a_recipient_who_said_no_or_cannot_be_reached_is_suppressed(reason: HoldReason) -> None:
    (got,) = desired(held(reason, "ana@example.com is suppressed"))
    assert got.state is OutboxState.SUPPRESSED
    assert (got.reason, got.last_error) == (reason.value, "ana@example.com is suppressed")


@pytest.mark.parametrize(
    "reason",
    [
        HoldReason.CANCELLED,
        HoldReason.CONDITION_FALSE,
        HoldReason.CAPPED,
        HoldReason.SKIPPED_HOLIDAY,
        HoldReason.INVALID_DATA,
    ],
)
def test_a_touchpoint_the_plan_drops_is_cancelled_with_its_reason(reason: HoldReason) -> None:
    (got,) = desired(held(reason, "words for people"))
    assert got.state is OutboxState.CANCELLED
    assert (got.reason, got.last_error) == (reason.value, "words for people")


def test_counts_for_caps_follows_each_rules_caps_policy() -> None:
    tps = [
        touchpoint(key="promo:c1:x:0", rule_id="promo", category=Category.MARKETING),
        touchpoint(key="reminder:c1:a1:0", rule_id="reminder"),
        touchpoint(key="unknown:c1:a1:0", rule_id="unknown"),
    ]
    rows = desired_rows(tps, {"promo": True, "reminder": False})
    assert [(r.rule_id, r.counts_for_caps) for r in rows] == [
        ("promo", True),
        ("reminder", False),
        ("unknown", True),  # a rule the mapping does not know counts, to be safe
    ]
    assert rows[0].category is Category.MARKETING


# --- plan_writes: what re-planning changes --------------------------------------------


def test_a_new_planned_key_is_inserted_as_pending() -> None:
    writes = replan([touchpoint()])
    assert [(r.key, r.state) for r in writes.inserts] == [(KEY, OutboxState.PENDING)]
    assert writes.updates == []
    assert [(t.row.key, t.old) for t in writes.transitions] == [(KEY, None)]


@pytest.mark.parametrize("expired_by", [timedelta(0), timedelta(hours=3)], ids=["at-now", "past"])
def test_a_new_key_that_expired_before_it_was_planned_is_recorded_as_expired(
    expired_by: timedelta,
) -> None:
    tp = touchpoint(due=NOW - timedelta(hours=5), expires=NOW - expired_by)
    writes = replan([tp])
    (inserted,) = writes.inserts
    assert inserted.state is OutboxState.EXPIRED
    assert inserted.reason == "expired"
    assert inserted.last_error is not None
    assert "before it was planned" in inserted.last_error
    assert [t.old for t in writes.transitions] == [None]


def test_a_new_key_due_in_the_past_but_not_expired_is_inserted_pending_to_catch_up() -> None:
    tp = touchpoint(due=NOW - timedelta(hours=5), expires=NOW + timedelta(minutes=1))
    (inserted,) = replan([tp]).inserts
    assert inserted.state is OutboxState.PENDING
    assert inserted.next_attempt_at == NOW - timedelta(hours=5)


def test_planning_the_same_plan_twice_writes_nothing_the_second_time() -> None:
    tps = [
        touchpoint(key="a"),
        touchpoint(key="b", due=NOW - timedelta(days=2), expires=NOW - timedelta(days=1)),
        held(HoldReason.CANCELLED, key="c"),
        held(HoldReason.NO_CONSENT, key="d"),
    ]
    first = replan(tps)
    assert len(first.inserts) == 4
    second = replan(tps, *first.inserts)
    assert nothing(second), second


def test_a_moved_due_time_updates_the_pending_row_without_a_state_change() -> None:
    later = DUE + timedelta(hours=2)
    writes = replan([touchpoint(due=later)], row(OutboxState.PENDING))
    new, expected_old = the_update(writes)
    assert expected_old is OutboxState.PENDING
    assert new.state is OutboxState.PENDING
    assert (new.due_at, new.next_attempt_at) == (later, later)
    assert writes.transitions == []  # the state did not change: nothing to log


@pytest.mark.parametrize(
    ("new_due", "expected_next"),
    [
        pytest.param(DUE + timedelta(minutes=5), DUE + timedelta(minutes=8), id="retry-is-later"),
        pytest.param(DUE + timedelta(hours=3), DUE + timedelta(hours=3), id="due-is-later"),
    ],
)
def test_a_retrying_row_keeps_retrying_but_never_before_its_due_time(
    new_due: datetime, expected_next: datetime
) -> None:
    have = row(
        OutboxState.RETRY,
        next_attempt=DUE + timedelta(minutes=8),
        attempts=2,
        reason="temporary_failure",
        last_error="451 4.3.0 try later",
    )
    writes = replan([touchpoint(due=new_due)], have)
    new, expected_old = the_update(writes)
    assert (new.state, expected_old) == (OutboxState.RETRY, OutboxState.RETRY)
    assert (new.due_at, new.next_attempt_at) == (new_due, expected_next)
    assert (new.reason, new.last_error) == ("temporary_failure", "451 4.3.0 try later")
    assert writes.transitions == []


def test_a_retrying_row_planned_unchanged_is_left_alone() -> None:
    have = row(OutboxState.RETRY, next_attempt=DUE + timedelta(minutes=8), reason="t", attempts=1)
    assert nothing(replan([touchpoint()], have))


def test_a_retrying_row_whose_due_moved_earlier_keeps_its_next_attempt() -> None:
    have = row(OutboxState.RETRY, next_attempt=DUE + timedelta(minutes=8), reason="t")
    new, _ = the_update(replan([touchpoint(due=DUE - timedelta(hours=1))], have))
    assert new.state is OutboxState.RETRY
    assert new.due_at == DUE - timedelta(hours=1)
    assert new.next_attempt_at == DUE + timedelta(minutes=8)


def test_a_rule_that_now_counts_for_caps_updates_its_open_rows() -> None:
    have = row(OutboxState.PENDING, counts_for_caps=False)
    writes = plan_writes(desired_rows([touchpoint()], {"reminder": True}), {KEY: have}, (), now=NOW)
    new, _ = the_update(writes)
    assert new.counts_for_caps is True


def test_a_retrying_row_the_plan_now_holds_is_cancelled() -> None:
    have = row(OutboxState.RETRY, reason="temporary_failure", last_error="451")
    new, expected_old = the_update(replan([held(HoldReason.CANCELLED, "cancel event")], have))
    assert (new.state, expected_old) == (OutboxState.CANCELLED, OutboxState.RETRY)
    assert (new.reason, new.last_error) == ("cancelled", "cancel event")


HISTORY = [OutboxState.SENT, OutboxState.FAILED, OutboxState.EXPIRED, OutboxState.CLAIMED]
PLANS = {
    "moved": [touchpoint(due=DUE + timedelta(hours=5))],
    "held": [held(HoldReason.CANCELLED)],
    "suppressed": [held(HoldReason.SUPPRESSED)],
    "expired-plan": [touchpoint(due=NOW - timedelta(days=3), expires=NOW - timedelta(days=2))],
}


@pytest.mark.parametrize(
    ("state", "plan_name"),
    [
        pytest.param(state, name, id=f"{name}-{state.value}")
        for name in PLANS
        for state in HISTORY
        # An expired row whose occurrence moved later is revived (the test below).
        if (state, name) != (OutboxState.EXPIRED, "moved")
    ],
)
def test_sent_failed_expired_and_claimed_rows_are_never_touched_by_a_plan(
    state: OutboxState, plan_name: str
) -> None:
    have = row(state, attempts=1, reason="whatever")
    assert nothing(replan(PLANS[plan_name], have))


def test_an_expired_reminder_comes_back_when_its_appointment_moves_later() -> None:
    # Never sent, so sending it for the new time cannot duplicate anything.
    have = row(OutboxState.EXPIRED, reason="expired")
    later = DUE + timedelta(days=2)
    new, old = the_update(replan([touchpoint(due=later, expires=later + timedelta(days=1))], have))
    assert (new.state, old) == (OutboxState.PENDING, OutboxState.EXPIRED)
    assert new.due_at == later


@pytest.mark.parametrize("state", HISTORY, ids=lambda s: s.value)
def test_sent_failed_expired_and_claimed_rows_are_never_cancelled_as_vanished(
    state: OutboxState,
) -> None:
    have = row(state)
    assert nothing(replan([], vanished=((have, "not_planned", "gone"),)))


def test_a_pending_row_the_plan_holds_is_cancelled_with_the_plans_reason() -> None:
    detail = "appointment_cancelled event x1 at 2026-11-03T10:00:00+00:00"
    writes = replan([held(HoldReason.CANCELLED, detail)], row(OutboxState.PENDING))
    new, expected_old = the_update(writes)
    assert (new.state, expected_old) == (OutboxState.CANCELLED, OutboxState.PENDING)
    assert (new.reason, new.last_error) == ("cancelled", detail)
    assert [(t.row.state, t.old) for t in writes.transitions] == [
        (OutboxState.CANCELLED, OutboxState.PENDING)
    ]


def test_a_pending_row_whose_recipient_unsubscribed_is_suppressed() -> None:
    new, _ = the_update(replan([held(HoldReason.SUPPRESSED)], row(OutboxState.PENDING)))
    assert (new.state, new.reason) == (OutboxState.SUPPRESSED, "suppressed")


@pytest.mark.parametrize(
    ("state", "reason"),
    [(OutboxState.CANCELLED, "cancelled"), (OutboxState.SUPPRESSED, "no_consent")],
    ids=["cancelled", "suppressed"],
)
def test_a_held_row_the_plan_sends_again_is_revived_to_pending(
    state: OutboxState, reason: str
) -> None:
    have = row(state, reason=reason, last_error="some words")
    writes = replan([touchpoint()], have)
    new, expected_old = the_update(writes)
    assert (new.state, expected_old) == (OutboxState.PENDING, state)
    assert (new.reason, new.last_error, new.next_attempt_at) == (None, None, DUE)
    assert [(t.row.state, t.old) for t in writes.transitions] == [(OutboxState.PENDING, state)]


def test_a_cancelled_row_is_not_revived_once_it_has_expired() -> None:
    have = row(OutboxState.CANCELLED, due=NOW - timedelta(days=2), reason="cancelled")
    tp = touchpoint(due=NOW - timedelta(days=2), expires=NOW)
    assert nothing(replan([tp], have))


@pytest.mark.parametrize("state", [OutboxState.PENDING, OutboxState.RETRY], ids=lambda s: s.value)
def test_an_open_row_that_vanished_from_the_plan_is_cancelled_with_the_given_reason(
    state: OutboxState,
) -> None:
    have = row(state)
    writes = replan([], vanished=((have, "rule_removed", "rule 'reminder' is gone"),))
    new, expected_old = the_update(writes)
    assert (new.state, expected_old) == (OutboxState.CANCELLED, state)
    assert (new.reason, new.last_error) == ("rule_removed", "rule 'reminder' is gone")
    assert [(t.row.state, t.old) for t in writes.transitions] == [(OutboxState.CANCELLED, state)]


def test_a_vanished_row_that_is_already_cancelled_is_left_alone() -> None:
    have = row(OutboxState.CANCELLED, reason="cancelled")
    assert nothing(replan([], vanished=((have, "not_planned", "gone"),)))


def test_a_requeued_row_keeps_its_extended_expiry_and_next_attempt_when_replanned() -> None:
    # `touchflow retry` on a failed row: pending, ready now, alive for another 3 days.
    due = NOW - timedelta(days=1)
    have = row(
        OutboxState.PENDING,
        due=due,
        expires=NOW + timedelta(days=3),
        next_attempt=NOW,
        attempts=1,
        reason="requeued",
        last_error="550 5.7.1 rejected",
    )
    tp = touchpoint(due=due, expires=due + timedelta(hours=24))  # the plan's own expiry: now
    writes = replan([tp], have)
    assert writes.inserts == []
    assert writes.transitions == []
    assert len(writes.updates) <= 1
    settled = writes.updates[0][0] if writes.updates else have
    assert settled.state is OutboxState.PENDING
    assert settled.expires_at == NOW + timedelta(days=3)
    assert settled.next_attempt_at == NOW
    assert settled.reason == "requeued"
    # And it settles: the row as rewritten, planned again, writes nothing more.
    assert nothing(replan([tp], settled))


def test_a_requeued_row_the_plan_now_holds_is_cancelled() -> None:
    have = row(OutboxState.PENDING, reason="requeued", expires=NOW + timedelta(days=3))
    new, _ = the_update(replan([held(HoldReason.CANCELLED, "cancel event")], have))
    assert (new.state, new.reason) == (OutboxState.CANCELLED, "cancelled")


# --- verdict: a claimed row against a fresh plan, just before sending -------------------


def claimed(**kw: object) -> OutboxRow:
    return row(OutboxState.CLAIMED, due=NOW - timedelta(minutes=1), **kw)  # type: ignore[arg-type]


def test_a_row_past_its_expiry_is_closed_as_expired() -> None:
    late = claimed(expires=NOW - timedelta(minutes=1))
    decision = verdict(late, touchpoint(due=late.due_at, expires=late.expires_at), now=NOW)
    assert isinstance(decision, Close)
    assert (decision.row.state, decision.row.reason) == (OutboxState.EXPIRED, "expired")
    assert decision.row.last_error is not None
    assert "not sent" in decision.row.last_error
    assert "1 min late" in decision.row.last_error


def test_a_row_the_fresh_plan_no_longer_has_is_cancelled_as_not_planned() -> None:
    decision = verdict(claimed(), None, now=NOW)
    assert isinstance(decision, Close)
    assert (decision.row.state, decision.row.reason) == (OutboxState.CANCELLED, "not_planned")
    assert decision.row.last_error and "no longer in the plan" in decision.row.last_error


@pytest.mark.parametrize(
    ("reason", "state"),
    [
        (HoldReason.SUPPRESSED, OutboxState.SUPPRESSED),
        (HoldReason.NO_CONSENT, OutboxState.SUPPRESSED),
        (HoldReason.CANCELLED, OutboxState.CANCELLED),
        (HoldReason.CAPPED, OutboxState.CANCELLED),
    ],
    ids=lambda v: v.value,
)
def test_a_row_the_fresh_plan_holds_is_closed_with_the_plans_reason(
    reason: HoldReason, state: OutboxState
) -> None:
    row_ = claimed()
    decision = verdict(row_, held(reason, "fresh words", due=row_.due_at), now=NOW)
    assert isinstance(decision, Close)
    assert (decision.row.state, decision.row.reason) == (state, reason.value)
    assert decision.row.last_error == "fresh words"


def test_a_row_whose_due_time_moved_later_goes_back_to_pending_at_the_new_time() -> None:
    later = NOW + timedelta(hours=3)
    decision = verdict(claimed(), touchpoint(due=later), now=NOW)
    assert isinstance(decision, Close)
    assert decision.row.state is OutboxState.PENDING
    assert (decision.row.due_at, decision.row.next_attempt_at) == (later, later)


def test_a_row_that_is_due_is_sent_with_the_fresh_touchpoint() -> None:
    tp = touchpoint(due=NOW)  # due exactly now counts as due
    row = claimed()
    decision = verdict(row, tp, now=NOW)
    assert decision == Send(touchpoint=tp, row=dataclasses.replace(row, expires_at=tp.expires_at))


def test_a_fallback_whose_channel_changed_updates_its_pending_row() -> None:
    # Planned as a text; consent to texts withdrawn: the re-plan makes it an e-mail.
    texted = row(channel="sms", to="+4915112345678")
    tp = touchpoint(to="ana@example.com")  # the fallback's e-mail
    updated, old_state = the_update(replan([tp], texted))
    assert (updated.channel, updated.to, updated.state) == (
        "email", "ana@example.com", OutboxState.PENDING
    )  # fmt: skip
    assert old_state is OutboxState.PENDING


def test_a_row_goes_by_the_channel_and_to_the_address_of_the_fresh_plan() -> None:
    # Planned as a text; the customer withdrew consent to texts: the fallback's e-mail.
    texted = dataclasses.replace(claimed(), channel="sms", to="+4915112345678")
    tp = dataclasses.replace(touchpoint(due=NOW), channel="email", to="ana@example.com")
    decision = verdict(texted, tp, now=NOW)
    assert isinstance(decision, Send)
    assert (decision.row.channel, decision.row.to) == ("email", "ana@example.com")


def test_a_stale_expiry_does_not_expire_a_row_the_fresh_plan_moved_later() -> None:
    # Reminder for an appointment at NOW; it was rescheduled to tomorrow, and the
    # dispatcher claims the row before the re-plan caught up.
    stale = claimed(expires=NOW)
    moved = touchpoint(due=NOW + timedelta(hours=20), expires=NOW + timedelta(days=1))
    decision = verdict(stale, moved, now=NOW)
    assert isinstance(decision, Close)
    assert decision.row.state is OutboxState.PENDING
    assert decision.row.due_at == NOW + timedelta(hours=20)


def test_a_row_moved_later_takes_the_fresh_plans_expiry() -> None:
    row_ = claimed(expires=NOW + timedelta(hours=1))  # the appointment's old start
    moved = touchpoint(due=NOW + timedelta(hours=3), expires=NOW + timedelta(days=1))
    decision = verdict(row_, moved, now=NOW)
    assert isinstance(decision, Close)
    assert decision.row.expires_at == NOW + timedelta(days=1)


# --- after_delivery: the row after one attempt -------------------------------------------


def attempt(
    outcome: Outcome,
    detail: str = "",
    *,
    row_: OutboxRow | None = None,
    jitter: float = 0.0,
) -> tuple[OutboxRow, Suppression | None]:
    return after_delivery(
        row_ or claimed(),
        Delivery(outcome=outcome, detail=detail),
        now=NOW,
        message_id="<k@example.com>",
        settings=SETTINGS,
        jitter=jitter,
    )


def test_a_sent_message_records_when_its_message_id_and_the_attempt() -> None:
    new, suppression = attempt(Outcome.SENT, "250 ok", row_=claimed(attempts=1, reason="x"))
    assert new.state is OutboxState.SENT
    assert (new.sent_at, new.message_id, new.attempts) == (NOW, "<k@example.com>", 2)
    assert (new.reason, new.last_error) == (None, None)
    assert suppression is None


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.99])
def test_a_temporary_failure_retries_after_the_backoff(jitter: float) -> None:
    new, suppression = attempt(Outcome.RETRY, "451 4.3.0 busy", jitter=jitter)
    assert new.state is OutboxState.RETRY
    assert new.attempts == 1
    assert new.next_attempt_at == NOW + backoff(1, SETTINGS, jitter)
    assert (new.reason, new.last_error) == ("temporary_failure", "451 4.3.0 busy")
    assert suppression is None


@pytest.mark.parametrize(
    ("asked", "waits"),
    [
        pytest.param(600.0, timedelta(minutes=10), id="longer-than-the-backoff"),
        pytest.param(5.0, timedelta(seconds=30), id="shorter-keeps-the-backoff"),
    ],
)
def test_a_retry_after_the_receiver_asked_for_is_honoured_never_shortening_the_backoff(
    asked: float, waits: timedelta
) -> None:
    slow_down = Delivery(outcome=Outcome.RETRY, detail="429", code=429, retry_after=asked)
    new, _ = after_delivery(
        claimed(), slow_down, now=NOW, message_id=KEY, settings=SETTINGS, jitter=0.0
    )
    assert (new.state, new.next_attempt_at - NOW) == (OutboxState.RETRY, waits)


def test_the_second_temporary_failure_waits_twice_as_long() -> None:
    first, _ = attempt(Outcome.RETRY, "451")
    second, _ = attempt(Outcome.RETRY, "451", row_=first)
    assert first.next_attempt_at - NOW == timedelta(seconds=30)
    assert second.next_attempt_at - NOW == timedelta(seconds=60)
    assert second.attempts == 2


@pytest.mark.parametrize(
    ("expires_in", "state"),
    [
        pytest.param(timedelta(minutes=1), OutboxState.EXPIRED, id="before-next-attempt"),
        pytest.param(timedelta(minutes=2), OutboxState.EXPIRED, id="at-next-attempt"),
        pytest.param(timedelta(minutes=2, seconds=1), OutboxState.RETRY, id="after"),
    ],
)
def test_a_retry_that_would_come_at_or_after_expiry_expires_now(
    expires_in: timedelta, state: OutboxState
) -> None:
    # Two earlier attempts and jitter 0: the third wait is 2 minutes (half of 4).
    tired = claimed(attempts=2, last_error="old", expires=NOW + expires_in)
    new, suppression = attempt(Outcome.RETRY, "421 4.4.2 timeout", row_=tired)
    assert (new.state, new.attempts, suppression) == (state, 3, None)
    if state is OutboxState.EXPIRED:
        assert new.reason == "expired"
        assert new.last_error is not None
        assert "after 3 attempt(s)" in new.last_error
        assert "last error: 421 4.4.2 timeout" in new.last_error


def test_a_bad_mailbox_fails_and_suppresses_the_address_for_everything() -> None:
    new, suppression = attempt(Outcome.BAD_MAILBOX, "550 5.1.1 no such user")
    assert (new.state, new.reason, new.attempts) == (OutboxState.FAILED, "bad_mailbox", 1)
    assert new.last_error == "550 5.1.1 no such user"
    assert suppression == Suppression(
        email="ana@example.com",
        scope=SuppressionScope.ALL,
        reason="bounced: 550 5.1.1 no such user",
        created_at=NOW,
    )


def test_a_bad_mailbox_without_a_recorded_address_suppresses_nothing() -> None:
    new, suppression = attempt(Outcome.BAD_MAILBOX, "550 5.1.1", row_=claimed(to=None))
    assert new.state is OutboxState.FAILED
    assert suppression is None


def test_a_rejected_message_fails_and_keeps_the_address() -> None:
    new, suppression = attempt(Outcome.FAILED, "554 5.7.1 spam")
    assert (new.state, new.reason, new.last_error) == (
        OutboxState.FAILED,
        "rejected",
        "554 5.7.1 spam",
    )
    assert new.message_id == "<k@example.com>"
    assert suppression is None


# --- backoff ---------------------------------------------------------------------------


def base(attempts: int, settings: DaemonSettings = SETTINGS) -> timedelta:
    """The wait before jitter: jitter 0 gives half of it."""
    return backoff(attempts, settings, 0.0) * 2


def test_backoff_doubles_from_retry_first() -> None:
    assert [base(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]


def test_backoff_is_capped_at_retry_max() -> None:
    assert base(7) == timedelta(hours=1)  # 64 minutes, capped
    assert base(60) == timedelta(hours=1)


def test_jitter_spreads_the_wait_over_the_upper_half_of_the_base() -> None:
    assert backoff(3, SETTINGS, 0.0) == timedelta(minutes=2)
    assert backoff(3, SETTINGS, 0.5) == timedelta(minutes=3)
    almost = backoff(3, SETTINGS, 0.999999)
    assert timedelta(minutes=4) - almost < timedelta(milliseconds=1)
    assert almost <= timedelta(minutes=4)


@given(attempts=st.integers(1, 60), jitter=st.floats(0, 1, exclude_max=True))
def test_backoff_always_lies_between_half_retry_first_and_retry_max(
    attempts: int, jitter: float
) -> None:
    wait = backoff(attempts, SETTINGS, jitter)
    assert SETTINGS.retry_first / 2 <= wait <= SETTINGS.retry_max


@given(attempts=st.integers(1, 59), jitter=st.floats(0, 1, exclude_max=True))
def test_backoff_never_shrinks_with_more_attempts(attempts: int, jitter: float) -> None:
    assert backoff(attempts, SETTINGS, jitter) <= backoff(attempts + 1, SETTINGS, jitter)


def test_a_long_first_backoff_stays_capped_after_many_attempts() -> None:
    slow = DaemonSettings(retry_first=timedelta(days=1), retry_max=timedelta(days=2))
    assert backoff(40, slow, 0.0) == timedelta(days=1)


def test_a_requeued_row_keeps_the_extra_time_retry_gave_it() -> None:
    # `touchflow retry` two days after the touchpoint's own expiry: it is still sent.
    requeued = claimed(expires=NOW + timedelta(days=1), reason="requeued")
    fresh = touchpoint(due=NOW - timedelta(days=2), expires=NOW - timedelta(days=1))
    decision = verdict(requeued, fresh, now=NOW)
    assert isinstance(decision, Send)
