"""The occurrences of a rule for one customer: which appointment, which year, which holiday.

An occurrence is what a touchpoint key is made of, and what it is anchored to.
Event occurrences follow the latest event of the same key: a reschedule moves
it, a ``cancel_on`` event cancels it, a later booking with that key revives it.
A ``cancel_on`` with ``match: customer`` cancels every occurrence booked
before it, whatever its key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from touchflow import calendars
from touchflow.builders import builder
from touchflow.config.project_config import ProjectConfig
from touchflow.models import Customer, Event, FieldType
from touchflow.rules.schema import (
    CancelMatch,
    CronTrigger,
    DateTrigger,
    EventTrigger,
    Feb29,
    HolidayTrigger,
    Rule,
    YearlyTrigger,
)
from touchflow.timecalc import cron_dates, yearly_date

# What urllib's quote() leaves alone; anything else in a key part is %-encoded.
_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")


def quoted(text: str) -> str:
    """A customer id or occurrence key as a touchpoint key part: ``quote(text, safe="")``."""
    if text.isascii() and text.isalnum():  # most are: two C scans, half a regex match's time
        return text
    return text if _SAFE.fullmatch(text) else quote(text, safe="")


@dataclass(frozen=True, slots=True, kw_only=True)
class Occurrence:
    key: str
    anchor: datetime | date | None  # None: the data did not say (see ``invalid``)
    event: Event | None = None  # the event that defines it now (latest booking or update)
    data: Mapping[str, Any] = field(default_factory=dict)  # merged event data, typed
    cancelled_by: Event | None = None
    invalid: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)  # the template's `occurrence`


# Made for each event occurrence of every customer: see touchflow.builders.
_new_occurrence = builder(Occurrence)


class AnchorSpan:
    """Instants [start, end) an anchor must lie in, decided mostly by its local date.

    Anchors come with the offset their text gave (``+01:00``), a tzinfo object
    of their own, and comparing one with a UTC bound costs about 0.5 us (the
    offsets are called for and the difference built), against 25 ns for two UTC
    times. But an offset is less than a day, so an anchor's UTC date is its local
    date give or take one: two days clear of the bounds' dates, the local date's
    ordinal alone decides, and only anchors near a bound are compared as instants.
    """

    __slots__ = ("_in_from", "_in_to", "_out_above", "_out_below", "end", "start")

    def __init__(self, start: datetime, end: datetime) -> None:
        start_day = start.astimezone(UTC).toordinal()
        end_day = end.astimezone(UTC).toordinal()
        self.start = start
        self.end = end
        self._in_from, self._in_to = start_day + 2, end_day - 2  # surely inside
        self._out_below, self._out_above = start_day - 2, end_day + 2  # surely outside

    def __contains__(self, anchor: datetime) -> bool:
        day = anchor.toordinal()  # the local date's
        if self._in_from <= day <= self._in_to:
            return True
        if day <= self._out_below or day >= self._out_above:
            return False
        return self.start <= anchor < self.end


def date_fields(config: ProjectConfig) -> dict[str, tuple[str, ...]]:
    """Per event type, the data fields declared as date or datetime."""
    kinds = (FieldType.DATE, FieldType.DATETIME)
    return {
        event_type: tuple(name for name, kind in fields.items() if kind in kinds)
        for event_type, fields in config.events.items()
    }


def typed_data(event: Event, dates: Mapping[str, tuple[str, ...]]) -> Mapping[str, Any]:
    """Event data with declared date/datetime fields parsed (the store keeps text).

    ``dates``: ``date_fields`` of the project. Without such fields, the event's
    own data: nothing changes it (merges make new dicts), and most event types
    have none, so no copy is made for them.
    """
    names = dates.get(event.type)
    if not names:
        return event.data
    data = dict(event.data)
    for name in names:
        value = data.get(name)
        if isinstance(value, str):
            try:
                data[name] = parse_when(value)
            except ValueError:
                pass  # left as text; the anchor check reports it where it matters
    return data


def parse_when(value: Any) -> datetime | date:
    """An aware datetime or a date from ISO text; naive datetimes are refused."""
    if type(value) is str:  # the usual case first: each anchor and date field is parsed
        text = value.strip()
        if len(text) != 10:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                raise ValueError(f"{value!r} has no UTC offset")
            return parsed
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


def path_value(event: Event, data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    if path == ("event", "at"):
        return event.at
    if path == ("event", "id"):
        return event.id
    if path == ("event", "year"):  # the year (UTC) the event happened: one occurrence a year
        return str(event.at.astimezone(UTC).year)
    return data.get(path[2])


class EventOccurrences:
    """The occurrences of one event rule; made once per plan() call, used for every customer.

    ``dates``: ``date_fields`` of the project.
    """

    __slots__ = (
        "_anchor_path", "_cancel", "_cancel_all", "_dates", "_relevant", "_trig", "_what",
        "_where",
    )  # fmt: skip

    def __init__(
        self, rule: Rule, trig: EventTrigger, dates: Mapping[str, tuple[str, ...]]
    ) -> None:
        self._trig = trig
        self._dates = dates
        cancel_on = rule.cancel_on
        self._relevant = frozenset((trig.event, *trig.updates, *(c.event for c in cancel_on)))
        self._cancel = frozenset(c.event for c in cancel_on if c.match is CancelMatch.OCCURRENCE)
        self._cancel_all = frozenset(c.event for c in cancel_on if c.match is CancelMatch.CUSTOMER)
        self._anchor_path = trig.anchor
        self._where = ".".join(trig.anchor)  # for the words of an invalid anchor
        self._what = ".".join(trig.occurrence)  # ... and of a missing occurrence key

    def of(self, events: Sequence[Event], anchors: AnchorSpan | None = None) -> list[Occurrence]:
        """What ``events`` (one customer's, by time) make, in the order keys first appear.

        ``anchors``: leave out occurrences anchored at a time outside it
        (the planner's ``RulePlan.anchors``: no offset of theirs is due in the plan).
        """
        found = []
        # Built here, once each and only where they can matter: most customers'
        # bookings and reschedules are history, outside any plan.
        for key, (event, data, cancelled_by, invalid) in self._states(events).items():
            if invalid is not None:  # a booking without a key
                occ = _new_occurrence(
                    key=key, anchor=None, event=event, data=data, cancelled_by=cancelled_by,
                    invalid=invalid,
                )  # fmt: skip
            else:
                anchor, why = self._anchor(event, data)
                if anchors is not None and isinstance(anchor, datetime):
                    if anchor not in anchors:
                        continue
                occ = _new_occurrence(
                    key=key, anchor=anchor, event=event, data=data, cancelled_by=cancelled_by,
                    invalid=why, values={"key": key},
                )  # fmt: skip
            found.append(occ)
        return found

    def _states(self, events: Sequence[Event]) -> dict[str, _State]:
        """Per occurrence key, in the order keys first appear: the event that defines
        it, its merged data, the event that cancelled it, and why it is invalid when
        a booking has no key."""
        trig, relevant, cancel, cancel_all = (
            self._trig,
            self._relevant,
            self._cancel,
            self._cancel_all,
        )
        state: dict[str, _State] = {}
        for event in events:
            if event.type not in relevant:
                continue
            if event.type in cancel_all:
                _cancel_every(state, event)
                if event.type != trig.event:
                    continue  # the trigger's own type goes on to book its occurrence
            data = typed_data(event, self._dates)
            raw_key = path_value(event, data, trig.occurrence)
            if raw_key in (None, ""):
                if event.type == trig.event:
                    invalid = f"{event.type} event {event.id} has no {self._what}"
                    state[f"event-{event.id}"] = [event, data, None, invalid]
                continue
            key = str(raw_key)
            previous = state.get(key)
            if event.type in cancel:
                if previous is not None:
                    previous[2] = event
                continue
            if event.type != trig.event and (previous is None or previous[2] is not None):
                continue  # an update for an occurrence never booked, or cancelled: only a new
                # booking (the trigger event itself) brings an occurrence back
            merged = {**previous[1], **data} if previous else data  # never changed: see typed_data
            state[key] = [event, merged, None, None]
        return state

    def _anchor(
        self, event: Event, data: Mapping[str, Any]
    ) -> tuple[datetime | date | None, str | None]:
        """The anchor of an occurrence defined by ``event`` with ``data``, or why there is none."""
        raw = path_value(event, data, self._anchor_path)
        if raw is None:
            return None, f"{event.type} event {event.id} has no {self._where}"
        try:
            return parse_when(raw), None
        except ValueError as exc:
            return None, f"{self._where} of event {event.id} {exc}"


# An occurrence being made: [defining event, merged data, cancelled by, invalid: why].
_State = list[Any]


def _cancel_every(state: dict[str, _State], event: Event) -> None:
    """A ``match: customer`` event cancels every occurrence booked so far.

    Events come by time (then id), so one booked later is not touched: an older
    complaint does not cancel the follow-up of a newer one. An occurrence keeps
    the first event that cancelled it, the one its detail names.
    """
    for booked in state.values():
        if booked[2] is None:
            booked[2] = event


def yearly_dates(
    month: int, day: int, feb29: Feb29, first: date, last: date
) -> Iterator[tuple[int, date]]:
    """Year and date of each time a month-day falls in ``first``..``last`` (local dates)."""
    for year in range(first.year, last.year + 1):
        found = yearly_date(month, day, year, feb29)
        if found is not None and first <= found <= last:
            yield year, found


def yearly_occurrence(trig: YearlyTrigger, origin: date, year: int, day: date) -> Occurrence | None:
    """The occurrence of ``year`` (on ``day``) of a yearly trigger on the date ``origin``.

    None in the year of the date itself: no card on the day someone is born.
    """
    count = year - origin.year
    if count < (1 if trig.skip_first else 0):
        return None
    return _dated(str(year), day, years=count)


def shared_occurrences(
    trig: DateTrigger | HolidayTrigger | CronTrigger, first: date, last: date, country: str | None
) -> Iterator[Occurrence]:
    """Occurrences of date, holiday and cron triggers in ``first``..``last`` (local dates).

    They depend on the dates and the country only, so customers can share them.
    """
    if isinstance(trig, DateTrigger):
        for year, day in yearly_dates(trig.month, trig.day, trig.feb29, first, last):
            yield _dated(str(year), day)
    elif isinstance(trig, HolidayTrigger):
        for year in range(first.year, last.year + 1):
            for day in calendars.holiday_dates(country, year, trig.name):
                if first <= day <= last:
                    yield _dated(day.isoformat(), day, holiday=trig.name)
    else:
        for day in cron_dates(trig.date_fields, first, last):
            yield _dated(day.isoformat(), day)


def customer_date(customer: Customer, name: str) -> date | None:
    """A yearly trigger's date field of a customer (a core field or a date attribute)."""
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
    return _new_occurrence(key=key, anchor=day, values=values)
