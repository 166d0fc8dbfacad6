"""The occurrences of a rule for one customer: which appointment, which year, which holiday.

An occurrence is what a touchpoint key is made of, and what it is anchored to.
Event occurrences follow the latest event of the same key: a reschedule moves
it, a ``cancel_on`` event cancels it, a later booking with that key revives it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from touchflow import calendars
from touchflow.config import ProjectConfig
from touchflow.models import Customer, CustomerFacts, Event, FieldType
from touchflow.rules.schema import (
    CronTrigger,
    DateTrigger,
    EventTrigger,
    HolidayTrigger,
    Rule,
    YearlyTrigger,
)
from touchflow.timecalc import cron_matches, yearly_date


@dataclass(frozen=True, slots=True, kw_only=True)
class Occurrence:
    key: str
    anchor: datetime | date | None  # None: the data did not say (see ``invalid``)
    event: Event | None = None  # the event that defines it now (latest booking or update)
    data: Mapping[str, Any] = field(default_factory=dict)  # merged event data, typed
    cancelled_by: Event | None = None
    invalid: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)  # the template's `occurrence`


def typed_data(event: Event, config: ProjectConfig) -> dict[str, Any]:
    """Event data with declared date/datetime fields parsed (the store keeps text)."""
    declared = config.events.get(event.type, {})
    data = dict(event.data)
    for name, kind in declared.items():
        value = data.get(name)
        if isinstance(value, str) and kind in (FieldType.DATE, FieldType.DATETIME):
            try:
                data[name] = parse_when(value)
            except ValueError:
                pass  # left as text; the anchor check reports it where it matters
    return data


def parse_when(value: Any) -> datetime | date:
    """An aware datetime or a date from ISO text; naive datetimes are refused."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("has no UTC offset")
        return value
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"is not a date or datetime: {value!r}")
    text = value.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return parsed


def _path_value(event: Event, data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    if path == ("event", "at"):
        return event.at
    if path == ("event", "id"):
        return event.id
    return data.get(path[2])


def event_occurrences(
    rule: Rule, trig: EventTrigger, facts: CustomerFacts, config: ProjectConfig
) -> Iterator[Occurrence]:
    relevant = {trig.event, *trig.updates, *rule.cancel_on}
    state: dict[str, Occurrence] = {}
    for event in facts.events:
        if event.type not in relevant:
            continue
        data = typed_data(event, config)
        raw_key = _path_value(event, data, trig.occurrence)
        if raw_key in (None, ""):
            if event.type == trig.event:
                key = f"event-{event.id}"
                state[key] = Occurrence(
                    key=key,
                    anchor=None,
                    event=event,
                    data=data,
                    invalid=f"{event.type} event {event.id} has no {'.'.join(trig.occurrence)}",
                )
            continue
        key = str(raw_key)
        previous = state.get(key)
        if event.type in rule.cancel_on:
            if previous is not None:
                state[key] = dataclasses.replace(previous, cancelled_by=event)
            continue
        if event.type != trig.event and (previous is None or previous.cancelled_by is not None):
            continue  # an update for an occurrence never booked, or cancelled: only a new
            # booking (the trigger event itself) brings an occurrence back
        merged = {**(previous.data if previous else {}), **data}
        state[key] = _anchored(key, event, merged, trig)
    yield from state.values()


def _anchored(key: str, event: Event, data: dict[str, Any], trig: EventTrigger) -> Occurrence:
    raw = _path_value(event, data, trig.anchor)
    values = {"key": key}
    where = ".".join(trig.anchor)
    if raw is None:
        return Occurrence(
            key=key,
            anchor=None,
            event=event,
            data=data,
            values=values,
            invalid=f"{event.type} event {event.id} has no {where}",
        )
    try:
        anchor = parse_when(raw)
    except ValueError as exc:
        return Occurrence(
            key=key,
            anchor=None,
            event=event,
            data=data,
            values=values,
            invalid=f"{where} of event {event.id} {exc}",
        )
    return Occurrence(key=key, anchor=anchor, event=event, data=data, values=values)


def date_occurrences(
    rule: Rule, customer: Customer, days: list[date], country: str | None
) -> Iterator[Occurrence]:
    """Occurrences of yearly, date, holiday and cron triggers whose date is in ``days``."""
    trig = rule.trigger
    first, last = days[0], days[-1]
    years = range(first.year, last.year + 1)
    if isinstance(trig, YearlyTrigger):
        origin = _customer_date(customer, trig.field)
        if origin is None:
            return
        for year in years:
            day = yearly_date(origin.month, origin.day, year, trig.feb29)
            count = year - origin.year
            if day is None or not first <= day <= last or count < (1 if trig.skip_first else 0):
                continue
            yield _dated(str(year), day, years=count)
    elif isinstance(trig, DateTrigger):
        for year in years:
            day = yearly_date(trig.month, trig.day, year, trig.feb29)
            if day is not None and first <= day <= last:
                yield _dated(str(year), day)
    elif isinstance(trig, HolidayTrigger):
        for year in years:
            for day in calendars.holiday_dates(country, year, trig.name):
                if first <= day <= last:
                    yield _dated(day.isoformat(), day, holiday=trig.name)
    elif isinstance(trig, CronTrigger):
        for day in days:
            if cron_matches(trig.date_fields, day):
                yield _dated(day.isoformat(), day)


def _customer_date(customer: Customer, name: str) -> date | None:
    value = (
        getattr(customer, name, None)
        if name in ("birthday", "customer_since")
        else customer.attributes.get(name)
    )
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _dated(key: str, day: date, **extra: Any) -> Occurrence:
    values: dict[str, Any] = {"key": key, "date": day, "year": day.year, **extra}
    return Occurrence(key=key, anchor=day, values=values)
