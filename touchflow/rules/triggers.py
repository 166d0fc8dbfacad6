"""The ``trigger:`` of a rule: which kind (event, yearly, date, holiday, cron) and its keys."""

from __future__ import annotations

import re
from typing import Any

from touchflow.checks import Collector, did_you_mean
from touchflow.config.project_config import ProjectConfig
from touchflow.errors import shown
from touchflow.models import FieldType
from touchflow.rules.schema import (
    CronTrigger,
    DateTrigger,
    EventTrigger,
    Feb29,
    HolidayTrigger,
    Trigger,
    YearlyTrigger,
)
from touchflow.timecalc import validate_cron
from touchflow.yamlload import LineDict

TRIGGER_KINDS = ("event", "yearly", "date", "holiday", "cron")
_TRIGGER_EXTRA = {
    "event": ("anchor", "occurrence", "updates"),
    "yearly": ("feb29",),
    "date": ("feb29",),
    "holiday": (),
    "cron": (),
}
_MMDD_RE = re.compile(r"(\d{2})-(\d{2})")  # fullmatch, as _ID_RE in the loader
DATE_FIELDS = ("birthday", "customer_since")


def read_trigger(doc: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    """The rule's ``trigger:``: exactly one kind and its own keys; None when it is wrong."""
    trig = out.mapping(doc["trigger"], doc.line_of("trigger"), what="trigger")
    if trig is None:
        return None
    kinds = [k for k in TRIGGER_KINDS if k in trig]
    if len(kinds) != 1:
        unknown = [
            k
            for k in trig
            if k not in TRIGGER_KINDS and not any(k in extra for extra in _TRIGGER_EXTRA.values())
        ]
        hint = did_you_mean(unknown[0], TRIGGER_KINDS) if unknown else ""
        out.add(
            trig.line,
            f"trigger needs exactly one of: {', '.join(TRIGGER_KINDS)} "
            f"(found {', '.join(kinds) or 'none'}){hint}",
        )
        return None
    kind = kinds[0]
    out.check_keys(trig, (kind, *_TRIGGER_EXTRA[kind]), where=f"the {kind} trigger")
    reader = {
        "event": _event_trigger,
        "yearly": _yearly_trigger,
        "date": _date_trigger,
        "holiday": _holiday_trigger,
        "cron": _cron_trigger,
    }[kind]
    return reader(trig, config, out)


def _event_trigger(trig: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    event = out.text(trig["event"], trig.line_of("event"), what="trigger.event")
    anchor = _path(trig.get("anchor", "event.at"), trig.line_of("anchor"), out, what="anchor")
    if anchor == ("event", "id"):
        out.add(
            trig.line_of("anchor"),
            "anchor must be a time: event.at or event.data.<date or datetime field>, not event.id",
        )
        anchor = None
    raw_occurrence = trig.get("occurrence", "event.id")
    occurrence: tuple[str, ...] | None = YEAR_OCCURRENCE
    if raw_occurrence != "event.year":  # one occurrence a year: at most one send a year
        occurrence = _path(raw_occurrence, trig.line_of("occurrence"), out, what="occurrence")
    updates = tuple(out.text_list(trig.get("updates", []), trig.line_of("updates"), what="updates"))
    if event is None or anchor is None or occurrence is None:
        return None
    return EventTrigger(event=event, anchor=anchor, occurrence=occurrence, updates=updates)


YEAR_OCCURRENCE = ("event", "year")


def _path(value: Any, line: int, out: Collector, *, what: str) -> tuple[str, ...] | None:
    """``event.at``, ``event.id`` or ``event.data.<field>``."""
    if isinstance(value, str):
        parts = tuple(value.strip().split("."))
        if parts in (("event", "at"), ("event", "id")) or (
            len(parts) == 3 and parts[:2] == ("event", "data") and parts[2]
        ):
            return parts
    also = ", event.year" if what == "occurrence" else ""
    out.add(
        line, f"{what} must be event.at, event.id{also} or event.data.<field>, not {shown(value)}"
    )
    return None


def _feb29(trig: LineDict, out: Collector) -> Feb29:
    value = trig.get("feb29", Feb29.FEB28.value)
    names = [p.value for p in Feb29]
    if value not in names:
        out.add(
            trig.line_of("feb29"), f"feb29 must be one of {', '.join(names)}, not {shown(value)}"
        )
        return Feb29.FEB28
    return Feb29(value)


def _yearly_trigger(trig: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    value = trig["yearly"]
    allowed = [
        *DATE_FIELDS,
        *(k for k, t in config.customer_attributes.items() if t is FieldType.DATE),
    ]
    name = value.removeprefix("customer.") if isinstance(value, str) else None
    if name not in allowed:
        choices = ", ".join(f"customer.{f}" for f in allowed)
        hint = did_you_mean(str(value), [f"customer.{f}" for f in allowed])
        out.add(
            trig.line_of("yearly"),
            f"yearly needs a customer date field ({choices}), not {shown(value)}{hint}",
        )
        return None
    assert name is not None
    return YearlyTrigger(field=name, feb29=_feb29(trig, out))


def _date_trigger(trig: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    value = str(trig["date"])
    match = _MMDD_RE.fullmatch(value)
    month, day = (int(match[1]), int(match[2])) if match else (0, 0)
    valid = match is not None and 1 <= month <= 12 and 1 <= day <= _days_in_month(month)
    if not valid:
        out.add(trig.line_of("date"), f'date must be "MM-DD" (e.g. "01-01"), not {shown(value)}')
        return None
    return DateTrigger(month=month, day=day, feb29=_feb29(trig, out))


def _days_in_month(month: int) -> int:
    return (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]


def _holiday_trigger(trig: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    name = out.text(trig["holiday"], trig.line_of("holiday"), what="holiday")
    return HolidayTrigger(name=name) if name else None


def _cron_trigger(trig: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    expression = out.text(trig["cron"], trig.line_of("cron"), what="cron")
    if expression is None:
        return None
    parsed = out.parse(validate_cron, expression, trig.line_of("cron"), what="cron")
    if parsed is None:
        return None
    return CronTrigger(expression=expression, date_fields=parsed[0], at=parsed[1])
