"""The ``policies:`` section of touchflow.yaml (and a rule's own): send windows, holidays,
frequency caps and consent, per category."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import time
from typing import Any

from touchflow.checks import Collector, did_you_mean, line_of
from touchflow.durations import parse_time_of_day
from touchflow.errors import shown
from touchflow.models import Category

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_POLICY_KEYS = ("send_window", "holidays", "caps", "require_consent")


class HolidayPolicy(enum.StrEnum):
    """What a send that falls on the customer's public holiday does."""

    SEND = "send"
    SKIP = "skip"
    NEXT_DAY = "next_day"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendWindow:
    """Hours in customer-local time when a send may go out (quiet hours outside)."""

    start: time
    end: time
    days: frozenset[int]  # 0 = Monday


@dataclass(frozen=True, slots=True, kw_only=True)
class Policies:
    send_window: SendWindow | None = None
    holidays: HolidayPolicy = HolidayPolicy.SEND
    caps: bool = False  # whether frequency caps count and limit this send
    require_consent: bool = False
    # A send not made by the window's end on its local day expires then instead of
    # going out late (set for marketing texts: touchflow.rules.quiet_hours).
    closes: bool = False


DEFAULT_MARKETING = Policies(
    send_window=SendWindow(start=time(9), end=time(20), days=frozenset(range(6))),
    holidays=HolidayPolicy.SEND,
    caps=True,
    require_consent=True,
)
DEFAULT_TRANSACTIONAL = Policies()


_DAY_NAMES = {
    **{short: i for i, short in enumerate(WEEKDAYS)},
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}


def read_weekdays(value: Any, line: int, out: Collector) -> frozenset[int] | None:
    days = out.text_list(value, line, what="days")
    result: set[int] = set()
    for i, day in enumerate(days):
        item_line = line_of(value, i, line)
        index = _DAY_NAMES.get(day.lower())
        if index is None:
            hint = did_you_mean(day.lower(), _DAY_NAMES)
            out.add(item_line, f"unknown weekday {day!r} (use {', '.join(WEEKDAYS)}){hint}")
            continue
        result.add(index)
    return frozenset(result) if days else None


def read_window(value: Any, line: int, out: Collector) -> SendWindow | None:
    doc = out.mapping(value, line, what="send_window")
    if doc is None:
        return None
    out.check_keys(doc, ("from", "to", "days"), where="send_window", required=("from", "to"))
    start = out.parse(parse_time_of_day, doc.get("from"), doc.line_of("from"), what="from")
    end = out.parse(parse_time_of_day, doc.get("to"), doc.line_of("to"), what="to")
    days = read_weekdays(doc["days"], doc.line_of("days"), out) if "days" in doc else None
    if start is None or end is None:
        return None
    if end <= start:
        out.add(doc.line, "send_window 'to' must be later than 'from' on the same day")
        return None
    return SendWindow(start=start, end=end, days=days if days is not None else frozenset(range(7)))


def read_policies(value: Any, line: int, out: Collector, base: Policies) -> Policies:
    """Policy keys over a base (the project default for the rule's category)."""
    doc = out.mapping(value, line, what="policies")
    if doc is None:
        return base
    out.check_keys(doc, _POLICY_KEYS, where="policies")
    window = base.send_window
    if "send_window" in doc:
        raw = doc["send_window"]
        window = (
            None
            if raw in (None, "none", False)
            else read_window(raw, doc.line_of("send_window"), out)
        )
    holidays = base.holidays
    if "holidays" in doc:
        raw_h = doc["holidays"]
        if raw_h in [p.value for p in HolidayPolicy]:
            holidays = HolidayPolicy(raw_h)
        else:
            choices = ", ".join(p.value for p in HolidayPolicy)
            out.add(
                doc.line_of("holidays"), f"holidays must be one of {choices}, not {shown(raw_h)}"
            )
    flags: dict[str, bool] = {"caps": base.caps, "require_consent": base.require_consent}
    for key in flags:
        if key in doc:
            if isinstance(doc[key], bool):
                flags[key] = doc[key]
            else:
                out.add(doc.line_of(key), f"{key} must be true or false, not {shown(doc[key])}")
    return Policies(
        send_window=window,
        holidays=holidays,
        caps=flags["caps"],
        require_consent=flags["require_consent"],
    )


def parse_policies(value: Any, line: int, out: Collector) -> dict[Category, Policies] | None:
    doc = out.mapping(value, line, what="policies")
    if doc is None:
        return None
    out.check_keys(doc, [c.value for c in Category], where="policies")
    defaults = {
        Category.MARKETING: DEFAULT_MARKETING,
        Category.TRANSACTIONAL: DEFAULT_TRANSACTIONAL,
    }
    return {
        cat: read_policies(doc[cat.value], doc.line_of(cat.value), out, base)
        if cat.value in doc
        else base
        for cat, base in defaults.items()
    }
