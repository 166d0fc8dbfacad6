"""`touchflow why`: the story of every decision the planner makes for one customer. Pure.

The planner itself is run, untouched, for the customer over the past period and the
future one: its touchpoints (planned or held, with the reason) are the truth, and
each one's candidate (``PlannedTouchpoint.context``) holds what the planner decided
on. The story re-reads those decisions in the planner's order with the planner's own
functions (``trace_found``, ``trace_time``, ``trace_gates``), so the hot path pays
nothing for it and the story cannot drift from the plan. The outbox rows the store
holds for the customer are joined by key: what was really sent, retried or refused.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from touchflow.config.project_config import ProjectConfig
from touchflow.durations import period_text
from touchflow.models import (
    CustomerFacts,
    OutboxRow,
    OutboxState,
    PlannedTouchpoint,
    Suppression,
    Window,
)
from touchflow.plan.candidates import Candidate
from touchflow.plan.occurrences import date_fields
from touchflow.plan.planner import Planner
from touchflow.plan.trace_found import found_checks, none_words
from touchflow.plan.trace_gates import cap_check, gate_checks
from touchflow.plan.trace_model import Check, CustomerStory, RuleStory, Stage, TouchpointStory
from touchflow.plan.trace_time import local_text, time_checks, trigger_check, utc_iso
from touchflow.plan.trace_words import held_words, row_words
from touchflow.rules.context import trigger_summary
from touchflow.rules.schema import Rule
from touchflow.timecalc import zone


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryInputs:
    """What the story of one customer is told from: the facts and the store's rows."""

    facts: CustomerFacts  # with the sends since the past period's start less the longest cap
    suppressions: Sequence[Suppression]  # those of the customer's address
    outbox: Sequence[OutboxRow]  # the customer's rows


@dataclass(frozen=True, slots=True, kw_only=True)
class _Period:
    name: str
    window: Window
    plan: list[PlannedTouchpoint]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Telling:
    """What every rule's story is told from."""

    inputs: StoryInputs
    config: ProjectConfig
    now: datetime
    periods: tuple[_Period, ...]
    span: Window  # from the past's start to the future's end
    timezone: str
    country: str | None


def tell(
    rules: Sequence[Rule], inputs: StoryInputs, *, config: ProjectConfig, now: datetime,
    past: Window, future: Window, rule_ids: Collection[str] | None = None,
) -> CustomerStory:  # fmt: skip
    """The story of ``inputs.facts.customer`` over ``past`` and ``future`` (``rule_ids``:
    only these rules; every rule is planned all the same, since caps compete across rules)."""
    customer = inputs.facts.customer
    periods = tuple(
        _Period(name=name, window=window,
                plan=Planner(rules, window=window, config=config, now=now).plan([inputs.facts]))
        for name, window in (("past", past), ("future", future))
    )  # fmt: skip
    telling = _Telling(
        inputs=inputs, config=config, now=now, periods=periods,
        span=Window(start=past.start, end=future.end),
        timezone=customer.timezone or config.timezone, country=customer.country or config.country,
    )  # fmt: skip
    stories = tuple(
        _rule_story(telling, rule) for rule in rules if rule_ids is None or rule.id in rule_ids
    )
    return CustomerStory(customer=customer, timezone=telling.timezone, country=telling.country,
                         now=now, past=past, future=future, rules=stories)  # fmt: skip


def _rule_story(t: _Telling, rule: Rule) -> RuleStory:
    facts, rows = t.inputs.facts, {row.key: row for row in t.inputs.outbox}
    found = found_checks(rule, facts, t.country, t.now.year)
    touchpoints = [
        _touchpoint(tp, period, t.inputs, t.config, rows.get(tp.key))
        for period in t.periods
        for tp in period.plan
        if tp.rule_id == rule.id
    ]
    seen = {tp.key for tp in touchpoints}
    touchpoints += [
        _outbox_only(row, rule, t.now, t.timezone)
        for row in t.inputs.outbox
        if row.rule_id == rule.id and row.key not in seen and t.span.contains(row.due_at)
    ]
    touchpoints.sort(key=lambda story: (story.due_at, story.key))
    none = None
    if not touchpoints:
        none = none_words(rule, facts, found, t.span, t.timezone, date_fields(t.config))
    return RuleStory(rule_id=rule.id, category=rule.category.value, trigger=trigger_summary(rule),
                     where=rule.where, found=tuple(found), touchpoints=tuple(touchpoints),
                     none=none, channel=rule.channel, channels=rule.channels)  # fmt: skip


def _touchpoint(
    tp: PlannedTouchpoint,
    period: _Period,
    inputs: StoryInputs,
    config: ProjectConfig,
    row: OutboxRow | None,
) -> TouchpointStory:
    c = tp.context
    checks: list[Check] = []
    if isinstance(c, Candidate):  # else a customer whose record cannot be planned
        checks += [trigger_check(c), *time_checks(c, config), *gate_checks(c, inputs.suppressions)]
        capped = cap_check(c, tp, period.plan, inputs.facts.sent, config)
        checks += [capped] if capped is not None else []
    checks.append(_outbox_check(tp, period.name, row, inputs, config))
    return TouchpointStory(
        key=tp.key,
        channel=tp.channel,
        rule_id=tp.rule_id,
        occurrence=tp.occurrence,
        period=period.name,
        status=tp.status.value,
        reason=tp.reason,
        detail=tp.detail,
        due_at=tp.due_at,
        timezone=tp.timezone,
        expires_at=tp.expires_at,
        stopped_by=_stopped_by(
            tp, checks, c.rule.where if isinstance(c, Candidate) else None, period.name, row
        ),
        checks=tuple(checks),
        outbox=row,
    )


def _stopped_by(
    tp: PlannedTouchpoint, checks: Sequence[Check], where: str | None, period: str,
    row: OutboxRow | None,
) -> str | None:  # fmt: skip
    """The first thing that stopped it: the planner's hold reason, named by the check that
    gave it; for a planned one that is due, what the outbox says went wrong."""
    if tp.reason is not None:
        for check in checks:
            if check.passed is False and check.reason is tp.reason:
                return f"{check.text} ({check.where})"
        words = held_words(tp.reason, tp.detail)
        return f"{words} ({where})" if where else words
    return _not_delivered(checks[-1], row, past=period == "past")


def _not_delivered(outbox: Check, row: OutboxRow | None, *, past: bool) -> str | None:
    """What the outbox says kept a touchpoint that is due from its customer: a final row
    not sent, no row at all, or (due in the past) one still waiting or retrying."""
    if outbox.passed is False:
        return outbox.text
    if past and row is not None and row.state is not OutboxState.SENT:
        return f"not sent yet: {outbox.text}"
    return None


def _outbox_check(
    tp: PlannedTouchpoint,
    period: str,
    row: OutboxRow | None,
    inputs: StoryInputs,
    config: ProjectConfig,
) -> Check:
    if row is not None:
        return row_check(row, tp.timezone)
    created = inputs.facts.customer.created_at
    if period == "future":
        ahead = period_text(config.daemon.horizon)
        text, passed = f"not in the outbox yet: the daemon plans {ahead} ahead", None
    elif created is not None and created > tp.due_at:
        text = (
            f"never in the outbox: the customer was added at {utc_iso(created)}, after it was due"
        )
        passed = False
    elif tp.reason is not None:
        text, passed = "no outbox row: held, so nothing was to be sent", None
    else:
        text, passed = (
            "never in the outbox: no daemon planned it (was `touchflow run` running?)",
            False,
        )
    return Check(stage=Stage.OUTBOX, name="row", passed=passed, text=text)


def row_check(row: OutboxRow, tz_name: str) -> Check:
    """An outbox row and its history, in words: state, attempts, the server's reply."""
    parts = [f"{row.state.value}: {row_words(row)}"]
    if row.attempts:
        parts.append(f"{row.attempts} attempt{'s' if row.attempts != 1 else ''}")
    if row.sent_at is not None:
        parts.append(f"sent at {local_text(row.sent_at, zone(tz_name))}")
    if row.message_id:
        parts.append(f"Message-ID {row.message_id}")
    if row.reason and row.state is not OutboxState.SENT:
        parts.append(f"reason {row.reason}")
    if row.last_error:  # a person's cancel says where and when, not a server's reply
        parts.append(row.last_error if row.held_by_hand else f"last reply: {row.last_error}")
    if row.claim_owner:
        parts.append(f"claimed by {row.claim_owner}")
    passed = {
        OutboxState.SENT: True,
        OutboxState.PENDING: None,
        OutboxState.CLAIMED: None,
        OutboxState.RETRY: None,
    }.get(row.state, False)
    return Check(stage=Stage.OUTBOX, name="row", passed=passed, text="; ".join(parts))


def _outbox_only(row: OutboxRow, rule: Rule, now: datetime, tz_name: str) -> TouchpointStory:
    """A row the plan of today no longer makes (its occurrence moved, the data changed)."""
    note = Check(
        stage=Stage.TRIGGER,
        name="plan",
        passed=None,
        where=rule.where,
        text="today's plan does not make this touchpoint (its occurrence moved or "
        "its data changed since it was planned)",
    )
    check = row_check(row, tz_name)
    return TouchpointStory(
        key=row.key,
        rule_id=row.rule_id,
        occurrence=row.key.split(":")[2] if row.key.count(":") >= 2 else "",
        period="past" if row.due_at < now else "future",
        status="outbox only",
        reason=None,
        detail=None,
        due_at=row.due_at,
        timezone=tz_name,
        expires_at=row.expires_at,
        stopped_by=_not_delivered(check, row, past=row.due_at < now),
        checks=(note, check),
        outbox=row,
        channel=row.channel,
    )
