"""`touchflow why`: what a rule's trigger found for the customer, and why it made nothing.

The same readers the planner uses (``EventOccurrences``, ``customer_date``, the
holiday calendars), asked again for one customer: which events, which date field,
which holidays, and where the next occurrence falls when none is in the period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from touchflow import calendars
from touchflow.models import CustomerFacts, Event, Window
from touchflow.plan.occurrences import (
    EventOccurrences,
    Occurrence,
    customer_date,
    path_value,
    yearly_dates,
)
from touchflow.plan.trace_model import Check, Stage
from touchflow.plan.trace_time import utc_iso
from touchflow.rules.schema import (
    DateTrigger,
    EventTrigger,
    HolidayTrigger,
    Rule,
    YearlyTrigger,
)
from touchflow.timecalc import zone

_YEARS_AHEAD = 8  # how far to look for the next date of a yearly rule (Feb 29 and skips)


def _found(rule: Rule, name: str, passed: bool | None, text: str, **values: Any) -> Check:
    return Check(
        stage=Stage.TRIGGER, name=name, passed=passed, text=text, where=rule.where, values=values
    )


def found_checks(rule: Rule, facts: CustomerFacts, country: str | None, year: int) -> list[Check]:
    """What the trigger found for this customer (before any window or gate)."""
    trig = rule.trigger
    if isinstance(trig, EventTrigger):
        return _events_found(rule, trig, facts.events)
    if isinstance(trig, YearlyTrigger):
        origin = customer_date(facts.customer, trig.field)
        if origin is None:
            return [_missing_field(rule, trig, facts)]
        text = f"customer.{trig.field} is {origin.isoformat()}"
        return [_found(rule, "date", True, text, field=trig.field, date=origin.isoformat())]
    if isinstance(trig, HolidayTrigger):
        years = (year - 1, year, year + 1)
        days = [d for y in years for d in calendars.holiday_dates(country, y, trig.name)]
        if not days:
            text = f"{country or 'the customer (no country)'} has no holiday {trig.name!r}"
            return [_found(rule, "holiday", False, text, holiday=trig.name, country=country)]
        dates = [d.isoformat() for d in days]
        text = f"{trig.name} in {country}: {', '.join(dates)}"
        return [
            _found(rule, "holiday", True, text, holiday=trig.name, country=country, dates=dates)
        ]
    return []  # a date or cron: the same dates for everyone (the touchpoints show them)


def _events_found(rule: Rule, trig: EventTrigger, events: Sequence[Event]) -> list[Check]:
    roles = {trig.event: "makes", **{u: "updates" for u in trig.updates}}
    roles.update({c.event: "cancels" for c in rule.cancel_on})
    mine = [e for e in events if e.type in roles]
    if not any(e.type == trig.event for e in mine):
        text = f"no {trig.event} event for this customer"
        return [_found(rule, "event", False, text, type=trig.event)]
    checks = []
    for e in mine:
        key = _occurrence_key(trig, e)
        made = f"occurrence {key}" if key else f"no occurrence (no {'.'.join(trig.occurrence)})"
        text = f"{e.type} event {e.id} at {utc_iso(e.at)} {roles[e.type]} {made}"
        at = utc_iso(e.at)
        checks.append(
            _found(rule, "event", None, text, event=e.id, type=e.type, at=at, occurrence=key)
        )
    return checks


def _occurrence_key(trig: EventTrigger, event: Event) -> str | None:
    value = path_value(event, event.data, trig.occurrence)
    return None if value in (None, "") else str(value)


def _missing_field(rule: Rule, trig: YearlyTrigger, facts: CustomerFacts) -> Check:
    customer = facts.customer
    raw = (
        getattr(customer, trig.field, None)
        if trig.field in ("birthday", "customer_since")
        else customer.attributes.get(trig.field)
    )
    text = (
        f"customer.{trig.field} is missing"
        if raw in (None, "")
        else f"customer.{trig.field} is {raw!r}, not a date"
    )
    return Check(
        stage=Stage.TRIGGER,
        name="date",
        passed=False,
        where=rule.where,
        text=text,
        values={"field": trig.field, "value": None if raw is None else str(raw)},
    )


def none_words(
    rule: Rule,
    facts: CustomerFacts,
    found: list[Check],
    span: Window,
    tz_name: str,
    dates: Mapping[str, tuple[str, ...]],
) -> str:
    """Why the rule has no touchpoint for this customer from the past's start to the
    future's end: the first thing that stopped it, with the rule's file:line."""
    first_failed = next((c for c in found if c.passed is False), None)
    if first_failed is not None:
        return f"{first_failed.text} ({rule.where})"
    tz = zone(tz_name)
    first, last = span.start.astimezone(tz).date(), span.end.astimezone(tz).date()
    period = f"from {first.isoformat()} to {last.isoformat()}"
    trig = rule.trigger
    if isinstance(trig, EventTrigger):
        occurrences = EventOccurrences(rule, trig, dates).of(facts.events)
        anchors = ", ".join(
            f"{o.key} anchored {_day(o.anchor)}{_cancelled(o)}" for o in occurrences
        )
        text = f"no touchpoint of its occurrences ({anchors or 'none'}) is due {period}"
    elif isinstance(trig, YearlyTrigger | DateTrigger):
        text = f"nothing is due {period}{_next_yearly(trig, facts, first)}"
    else:
        text = f"no date of this trigger falls {period}"
    return f"{text}{_added_note(facts, span)} ({rule.where})"


def _cancelled(occ: Occurrence) -> str:
    ev = occ.cancelled_by
    return "" if ev is None else f", cancelled by {ev.type} event {ev.id}"


def _day(anchor: datetime | date | None) -> str:
    if isinstance(anchor, datetime):
        return utc_iso(anchor)
    return "nowhere" if anchor is None else anchor.isoformat()


def _next_yearly(trig: YearlyTrigger | DateTrigger, facts: CustomerFacts, first: date) -> str:
    if isinstance(trig, DateTrigger):
        month, day = trig.month, trig.day
    else:
        origin = customer_date(facts.customer, trig.field)
        if origin is None:
            return ""
        month, day = origin.month, origin.day
    end = date(min(first.year + _YEARS_AHEAD, 9999), 12, 31)
    upcoming = next(iter(yearly_dates(month, day, trig.feb29, first, end)), None)
    return "" if upcoming is None else f" (it falls on {upcoming[1].isoformat()})"


def _added_note(facts: CustomerFacts, span: Window) -> str:
    created = facts.customer.created_at
    if created is not None and span.start < created:
        return (
            f"; the customer was added to the store at {utc_iso(created)}, and nothing "
            "that expired before that is planned"
        )
    return ""
