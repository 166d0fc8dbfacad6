"""A touchpoint a person cancelled (`touchflow cancel`, the console's Cancel): re-planning
keeps it cancelled, whatever the plan wants; `touchflow retry` lifts it, and then the plan
keeps it pending. `touchflow why` and `touchflow diff` tell it apart from the plan's own."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from support import customer, event, facts, utc
from test_outbox import DUE, NOW, held, nothing, replan, row, touchpoint
from test_why_trace import rule, story, the_touchpoint

from touchflow.explain.diff_outbox import RowEffect, effect_of
from touchflow.explain.diff_text import effect_line
from touchflow.models import CANCELLED_BY_HAND, Category, HoldReason, OutboxRow, OutboxState
from touchflow.plan.trace_text import story_lines
from touchflow.send import hand_cancel

BY_CONSOLE = hand_cancel.detail("console", NOW)


def by_hand(state: OutboxState = OutboxState.CANCELLED, **kw: object) -> OutboxRow:
    return row(state, reason=CANCELLED_BY_HAND, last_error=BY_CONSOLE, **kw)  # type: ignore[arg-type]


def test_the_detail_says_where_and_when() -> None:
    assert BY_CONSOLE == "cancelled by hand in the console at 2026-11-10 12:00 UTC"
    assert hand_cancel.detail("cli", NOW).startswith("cancelled by hand with `touchflow cancel`")
    assert by_hand().held_by_hand
    assert not row(OutboxState.CANCELLED, reason="not_planned").held_by_hand
    assert not row(OutboxState.PENDING, reason=CANCELLED_BY_HAND).held_by_hand


def test_a_row_cancelled_by_hand_stays_cancelled_when_the_plan_still_sends_it() -> None:
    assert nothing(replan([touchpoint()], by_hand()))


def test_it_stays_as_it_is_when_the_plan_moves_it_or_holds_it_otherwise() -> None:
    assert nothing(replan([touchpoint(due=DUE + timedelta(hours=3))], by_hand()))
    assert nothing(replan([held(HoldReason.CONDITION_FALSE, "x is false")], by_hand()))
    assert nothing(replan([held(HoldReason.NO_CONSENT, "no consent")], by_hand()))


def test_a_plan_cancelled_row_is_still_revived_as_before() -> None:
    have = row(OutboxState.CANCELLED, reason="not_planned", last_error="gone")
    ((new, _),) = replan([touchpoint()], have).updates
    assert new.state is OutboxState.PENDING


def test_a_row_cancelled_by_hand_is_not_touched_when_it_vanishes_from_the_plan() -> None:
    vanished = ((by_hand(), "rule_removed", "rule 'reminder' is no longer in rules/"),)
    assert nothing(replan([], vanished=vanished))


def test_retry_lifts_it_and_the_next_plan_keeps_it_pending() -> None:
    # What `touchflow retry` (Store.requeue) writes: pending, ready now, a day more.
    requeued = dataclasses.replace(
        by_hand(due=NOW - timedelta(hours=1)), state=OutboxState.PENDING, reason="requeued",
        next_attempt_at=NOW, expires_at=NOW + timedelta(days=1),
    )  # fmt: skip
    assert not requeued.held_by_hand
    writes = replan([touchpoint(due=NOW - timedelta(hours=1))], requeued)
    settled = writes.updates[0][0] if writes.updates else requeued
    assert (settled.state, settled.next_attempt_at) == (OutboxState.PENDING, NOW)
    assert writes.transitions == []


def test_diff_keeps_it_and_says_it_was_cancelled_by_hand() -> None:
    have = by_hand()
    assert replan([touchpoint()], have).updates == []  # what row_effects reads: no update
    assert effect_of(have, have) == "kept"
    effect = RowEffect(
        key=have.key, rule=have.rule_id, customer=have.customer_id, category="transactional",
        effect="kept", state=have.state, due_at=DUE, new_state=have.state, new_due_at=DUE,
        reason=have.reason,
    )  # fmt: skip
    assert effect_line(effect).endswith(
        "kept as it is: cancelled by hand (due 2026-11-11 09:00 UTC)"
    )


def test_why_tells_a_touchpoint_cancelled_by_hand(tmp_path) -> None:
    ping = event("ping", "2026-11-16T10:00:00Z")
    key = "promo:c1:ping-2026-11-16T10%3A00%3A00Z:1h-after"
    row = OutboxRow(
        key=key, rule_id="promo", customer_id="c1", category=Category.MARKETING,
        counts_for_caps=True, state=OutboxState.CANCELLED, due_at=utc("2026-11-16T11:00:00Z"),
        expires_at=utc("2026-11-17T11:00:00Z"), next_attempt_at=utc("2026-11-16T11:00:00Z"),
        reason=CANCELLED_BY_HAND, last_error=BY_CONSOLE,
    )  # fmt: skip
    told = story(tmp_path, rule("promo", "ping"), facts(customer(), [ping]), outbox=[row])
    tp = the_touchpoint(told, "promo")
    assert tp.status == "planned"  # the rules still send it: the person's word holds
    assert tp.stopped_by == (
        "cancelled: not sent: cancelled by hand; the plan keeps it so (`touchflow retry KEY` "
        "sends it); reason cancelled_by_hand; cancelled by hand in the console at "
        "2026-11-10 12:00 UTC"
    )
    assert "PLANNED · outbox: cancelled by hand" in "\n".join(story_lines(told))
