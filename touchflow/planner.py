"""The planner: (rules, facts, window) → planned touchpoints. Pure.

It reads no clock, opens no file and sends nothing; ``window.start`` is "now".
The same function feeds ``touchflow preview`` and the daemon, so a preview is
a promise of what will be sent.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from touchflow import calendars
from touchflow.config import HolidayPolicy, Policies, ProjectConfig, SendWindow
from touchflow.context import customer_context, event_context
from touchflow.durations import Offset, Unit, period_text
from touchflow.expressions import ConditionError, evaluate
from touchflow.models import (
    Adjustment,
    Category,
    CustomerFacts,
    HoldReason,
    PlannedTouchpoint,
    Status,
    SuppressionScope,
    Window,
)
from touchflow.occurrences import Occurrence, date_occurrences, event_occurrences
from touchflow.rules.schema import CronTrigger, EventTrigger, Rule
from touchflow.timecalc import local_dates, resolve_local, zone

_MAX_POLICY_STEPS = 60  # window + holiday moves; a year of holidays never needs more


def plan(
    rules: Sequence[Rule],
    facts: Iterable[CustomerFacts],
    *,
    window: Window,
    config: ProjectConfig,
) -> list[PlannedTouchpoint]:
    """Every touchpoint due in ``window``, planned or held with a reason, ordered by time."""
    lookahead = max((cap.per for cap in config.caps), default=timedelta(0))
    result: list[PlannedTouchpoint] = []
    for customer_facts in facts:
        result.extend(
            plan_customer(rules, customer_facts, window=window, config=config, lookahead=lookahead)
        )
    result.sort(key=lambda tp: (tp.due_at, tp.customer_id, tp.rule_id, tp.key))
    return result


def plan_customer(
    rules: Sequence[Rule],
    facts: CustomerFacts,
    *,
    window: Window,
    config: ProjectConfig,
    lookahead: timedelta,
) -> list[PlannedTouchpoint]:
    # Plan past the window's end by the longest cap period, so a cap that bites
    # just after the window decides the same way in a short and a long preview.
    wide = Window(start=window.start, end=window.end + lookahead)
    customer = facts.customer
    tz_name = customer.timezone or config.timezone
    tz = zone(tz_name)
    country = customer.country or config.country
    days = local_dates(wide.start, wide.end, tz, pad_days=_pad_days(rules))
    candidates: list[PlannedTouchpoint] = []
    for rule in rules:
        if isinstance(rule.trigger, EventTrigger):
            occurrences = event_occurrences(rule, rule.trigger, facts, config)
        else:
            occurrences = date_occurrences(rule, customer, days, country)
        for occ in occurrences:
            for offset in rule.offsets:
                tp = _touchpoint(rule, facts, occ, offset, tz_name, tz, country, wide, config)
                if tp is not None:
                    candidates.append(tp)
    counts = {rule.id: rule.policies.caps for rule in rules}
    capped = _apply_caps(candidates, facts, config, counts)
    return [tp for tp in capped if window.contains(tp.due_at)]


def _pad_days(rules: Sequence[Rule]) -> int:
    """How far outside the window an occurrence may lie and still be due inside it."""
    longest = 0
    for rule in rules:
        for offset in rule.offsets:
            days = abs(offset.amount)
            if offset.unit is Unit.WEEKS:
                days *= 7
            elif offset.unit is Unit.BUSINESS_DAYS:
                days = days * 2 + 14  # weekends and a run of holidays
            elif not offset.unit.is_calendar:
                days = days // (24 * 60 if offset.unit is Unit.MINUTES else 24) + 1
            longest = max(longest, days)
    return longest + 8  # + a week of window/holiday moves


def _touchpoint(
    rule: Rule,
    facts: CustomerFacts,
    occ: Occurrence,
    offset: Offset,
    tz_name: str,
    tz: ZoneInfo,
    country: str | None,
    wide: Window,
    config: ProjectConfig,
) -> PlannedTouchpoint | None:
    adjustments: list[Adjustment] = []
    skipped: str | None = None
    if occ.anchor is None:
        assert occ.event is not None
        due = occ.event.at
    else:
        due, gap = _due(occ.anchor, offset, _time_of_day(rule, config), tz, country, config)
        if gap:
            adjustments.append(Adjustment.DST_GAP)
        due, moved, skipped = _apply_time_policies(due, rule.policies, tz, country)
        adjustments.extend(moved)
    if not wide.contains(due):
        return None
    key = touchpoint_key(rule.id, facts.customer.id, occ.key, offset)
    context = _context(rule, facts, occ, key, due, tz, config)
    reason, detail = _hold(rule, facts, occ, context, skipped)
    expires = expiry_of(rule, occ.anchor, offset, due, tz)
    if reason is None and expires <= due:
        reason = HoldReason.TOO_LATE
        detail = f"due {due:%Y-%m-%d %H:%M} UTC, after it expires at {expires:%Y-%m-%d %H:%M} UTC"
        if adjustments:
            detail += f" ({', '.join(a.value for a in adjustments)})"
    if reason is None and adjustments:
        detail = ", ".join(a.value for a in adjustments)
    return PlannedTouchpoint(
        key=key,
        rule_id=rule.id,
        customer_id=facts.customer.id,
        occurrence=occ.key,
        channel=rule.channel,
        template=rule.template,
        category=rule.category,
        priority=rule.priority,
        due_at=due,
        timezone=tz_name,
        status=Status.PLANNED if reason is None else Status.HELD,
        reason=reason,
        detail=detail,
        adjustments=tuple(adjustments),
        to=facts.customer.email,
        expires_at=expires,
        context=context,
    )


def touchpoint_key(rule_id: str, customer_id: str, occurrence: str, offset: Offset) -> str:
    """``rule:customer:occurrence:offset``, each part %-quoted so ':' cannot be ambiguous."""
    return ":".join(
        (rule_id, quote(customer_id, safe=""), quote(occurrence, safe=""), offset.label)
    )


def expiry_of(
    rule: Rule, anchor: datetime | date | None, offset: Offset, due: datetime, tz: ZoneInfo
) -> datetime:
    """When a touchpoint that has not gone out yet stops being worth sending.

    ``expires_after`` wins. Otherwise a reminder *before* an event's anchor (the
    appointment start, the coupon's end) expires at the anchor; anything else
    an event triggers gets a day; a date-based greeting ends with the customer's
    local day.
    """
    if rule.expires_after is not None:
        return due + rule.expires_after
    if isinstance(rule.trigger, EventTrigger):
        if offset.amount < 0 and isinstance(anchor, datetime):
            return anchor.astimezone(UTC)
        if offset.amount < 0 and isinstance(anchor, date):
            return _end_of_local_day(anchor, tz)
        return due + timedelta(days=1)
    return _end_of_local_day(due.astimezone(tz).date(), tz)


def _end_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    return resolve_local(day + timedelta(days=1), time(0), tz)[0].astimezone(UTC)


def _time_of_day(rule: Rule, config: ProjectConfig) -> time | None:
    """The local time a rule sends at: its `at`, a cron's own time, or None (keep anchor's)."""
    if isinstance(rule.trigger, CronTrigger):
        return rule.trigger.at
    if rule.at is not None:
        return rule.at
    return None if isinstance(rule.trigger, EventTrigger) else config.send_time


def _due(
    anchor: datetime | date,
    offset: Offset,
    at: time | None,
    tz: ZoneInfo,
    country: str | None,
    config: ProjectConfig,
) -> tuple[datetime, bool]:
    if isinstance(anchor, datetime):
        if not offset.unit.is_calendar:
            return (anchor + offset.exact()).astimezone(UTC), False
        local = anchor.astimezone(tz)
        day = _shift(local.date(), offset, country, config)
        return resolve_local(day, at or local.time().replace(tzinfo=None), tz)
    when = at or config.send_time
    if not offset.unit.is_calendar:
        base, gap = resolve_local(anchor, when, tz)
        return base + offset.exact(), gap
    return resolve_local(_shift(anchor, offset, country, config), when, tz)


def _shift(day: date, offset: Offset, country: str | None, config: ProjectConfig) -> date:
    if offset.unit is Unit.BUSINESS_DAYS:
        return calendars.add_business_days(day, offset.amount, country, config.business_days)
    return day + timedelta(days=offset.calendar_days())


def _apply_time_policies(
    due: datetime, policies: Policies, tz: ZoneInfo, country: str | None
) -> tuple[datetime, list[Adjustment], str | None]:
    """Move a send into the send window and off holidays; third value: a skipping holiday."""
    window = policies.send_window
    local = due.astimezone(tz)
    moved: list[Adjustment] = []
    for _ in range(_MAX_POLICY_STEPS):
        name = calendars.holiday_name(country, local.date())
        if name is not None and policies.holidays is HolidayPolicy.SKIP:
            return local.astimezone(UTC), moved, name
        if name is not None and policies.holidays is HolidayPolicy.NEXT_DAY:
            start = window.start if window else local.time().replace(tzinfo=None)
            local = resolve_local(local.date() + timedelta(days=1), start, tz)[0].astimezone(tz)
            _note(moved, Adjustment.MOVED_BY_HOLIDAY)
            continue
        if window is not None and not _inside(local, window):
            local = _next_opening(local, window, tz)
            _note(moved, Adjustment.MOVED_BY_WINDOW)
            continue
        break
    return local.astimezone(UTC), moved, None


def _note(moved: list[Adjustment], what: Adjustment) -> None:
    if what not in moved:
        moved.append(what)


def _inside(local: datetime, window: SendWindow) -> bool:
    wall = local.time().replace(tzinfo=None)
    return local.weekday() in window.days and window.start <= wall < window.end


def _next_opening(local: datetime, window: SendWindow, tz: ZoneInfo) -> datetime:
    day = local.date()
    if not (day.weekday() in window.days and local.time().replace(tzinfo=None) < window.start):
        day += timedelta(days=1)
        while day.weekday() not in window.days:
            day += timedelta(days=1)
    return resolve_local(day, window.start, tz)[0].astimezone(tz)


def _context(
    rule: Rule,
    facts: CustomerFacts,
    occ: Occurrence,
    key: str,
    due: datetime,
    tz: ZoneInfo,
    config: ProjectConfig,
) -> dict[str, Any]:
    local = due.astimezone(tz)
    context: dict[str, Any] = {
        "customer": customer_context(
            facts.customer, events=facts.events, as_of=due, local_day=local.date(), config=config
        ),
        "occurrence": dict(occ.values),
        "touchpoint": {
            "key": key,
            "rule": rule.id,
            "category": rule.category.value,
            "send_at": local,
        },
        "vars": dict(config.vars),
    }
    if occ.event is not None:
        context["event"] = event_context(occ.event, occ.data)
    return context


def _hold(
    rule: Rule,
    facts: CustomerFacts,
    occ: Occurrence,
    context: dict[str, Any],
    skipped_holiday: str | None,
) -> tuple[HoldReason | None, str | None]:
    """The first reason this touchpoint will not be sent, in a fixed order."""
    if occ.cancelled_by is not None:
        ev = occ.cancelled_by
        return HoldReason.CANCELLED, f"{ev.type} event {ev.id} at {ev.at.isoformat()}"
    if occ.invalid is not None:
        return HoldReason.INVALID_DATA, occ.invalid
    for condition in rule.conditions:
        try:
            if not evaluate(condition.compiled, context):
                return (
                    HoldReason.CONDITION_FALSE,
                    f"{rule.path}:{condition.line}: {condition.source}",
                )
        except ConditionError as exc:
            return HoldReason.CONDITION_FALSE, f"{rule.path}:{condition.line}: {exc}"
    customer = facts.customer
    if not customer.email:
        return HoldReason.NO_ADDRESS, "customer has no email address"
    marketing = rule.category is Category.MARKETING
    if SuppressionScope.ALL in facts.suppressed or (
        marketing and SuppressionScope.MARKETING in facts.suppressed
    ):
        return HoldReason.SUPPRESSED, f"{customer.email} is suppressed"
    if rule.policies.require_consent and not customer.consent_marketing:
        return HoldReason.NO_CONSENT, "customer has not consented to marketing"
    if skipped_holiday is not None:
        return HoldReason.SKIPPED_HOLIDAY, skipped_holiday
    return None, None


def _apply_caps(
    candidates: list[PlannedTouchpoint],
    facts: CustomerFacts,
    config: ProjectConfig,
    counts: Mapping[str, bool],
) -> list[PlannedTouchpoint]:
    """Frequency caps per category: higher priority wins, then the earlier send."""
    result = list(candidates)
    # A touchpoint already sent is counted once, as sent, not again as a candidate.
    sent_keys = {s.key for s in facts.sent}
    for cap in config.caps:
        taken = sorted(s.sent_at for s in facts.sent if s.category is cap.category)
        order = sorted(
            (
                i
                for i, tp in enumerate(result)
                if tp.category is cap.category
                and tp.status is Status.PLANNED
                and counts[tp.rule_id]
                and tp.key not in sent_keys
            ),
            key=lambda i: (-result[i].priority, result[i].due_at, result[i].key),
        )
        for i in order:
            tp = result[i]
            if _fits(taken, tp.due_at, cap.max, cap.per):
                bisect.insort(taken, tp.due_at)
            else:
                result[i] = _capped(
                    tp, f"cap of {cap.max} {cap.category.value} per {period_text(cap.per)} reached"
                )
    return result


def _fits(taken: list[datetime], at: datetime, limit: int, per: timedelta) -> bool:
    """Whether one more send at ``at`` keeps every period of length ``per`` within ``limit``."""
    times = sorted([*taken, at])
    for start in times:
        if at - per < start <= at:
            count = bisect.bisect_left(times, start + per) - bisect.bisect_left(times, start)
            if count > limit:
                return False
    return True


def _capped(tp: PlannedTouchpoint, detail: str) -> PlannedTouchpoint:
    return dataclasses.replace(tp, status=Status.HELD, reason=HoldReason.CAPPED, detail=detail)
