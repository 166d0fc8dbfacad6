"""Offsets and periods as ops people write them: ``24 hours before``, ``3 business days after``.

Parsing returns values or raises ``ValueError`` with a message that says what
would be right; the rules loader adds file and line.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import time, timedelta


class Unit(enum.StrEnum):
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"
    BUSINESS_DAYS = "business_days"
    MONTHS = "months"
    YEARS = "years"

    @property
    def is_calendar(self) -> bool:
        """Whole-day units keep the local wall time (DST-proof); others are exact."""
        return self not in (Unit.MINUTES, Unit.HOURS)


_UNIT_WORDS: dict[str, Unit] = {
    "m": Unit.MINUTES,
    "min": Unit.MINUTES,
    "mins": Unit.MINUTES,
    "minute": Unit.MINUTES,
    "minutes": Unit.MINUTES,
    "h": Unit.HOURS,
    "hour": Unit.HOURS,
    "hours": Unit.HOURS,
    "d": Unit.DAYS,
    "day": Unit.DAYS,
    "days": Unit.DAYS,
    "w": Unit.WEEKS,
    "week": Unit.WEEKS,
    "weeks": Unit.WEEKS,
    "bd": Unit.BUSINESS_DAYS,
    "business day": Unit.BUSINESS_DAYS,
    "business days": Unit.BUSINESS_DAYS,
    # No "m" or "mo" alone: "m" is minutes, and a short form of months invites mix-ups.
    "month": Unit.MONTHS,
    "months": Unit.MONTHS,
    "y": Unit.YEARS,
    "year": Unit.YEARS,
    "years": Unit.YEARS,
}

_SHORT = {
    Unit.MINUTES: "m",
    Unit.HOURS: "h",
    Unit.DAYS: "d",
    Unit.WEEKS: "w",
    Unit.BUSINESS_DAYS: "bd",
    Unit.MONTHS: "mo",
    Unit.YEARS: "y",
}

_OFFSET_RE = re.compile(
    r"^\s*(?P<n>\d+)\s*(?P<unit>business\s+days?|[a-z]+)\s+(?P<dir>before|after)\s*$",
    re.IGNORECASE,
)
_PERIOD_RE = re.compile(r"^\s*(?P<n>\d+)\s*(?P<unit>[a-z]+)\s*$", re.IGNORECASE)
# A period is an exact length (a cap's, an expiry's): no units of varying length.
_PERIOD_UNITS = (Unit.MINUTES, Unit.HOURS, Unit.DAYS, Unit.WEEKS)
_TIME_RE = re.compile(r"^(?P<h>\d{1,2}):(?P<m>\d{2})$")

# Ten years in each unit: farther than any touchpoint needs, and safe from date overflow.
_MAX_OFFSET = {
    Unit.MINUTES: 10 * 366 * 24 * 60,
    Unit.HOURS: 10 * 366 * 24,
    Unit.DAYS: 10 * 366,
    Unit.WEEKS: 10 * 53,
    Unit.BUSINESS_DAYS: 10 * 262,
    Unit.MONTHS: 10 * 12,
    Unit.YEARS: 10,
}

OFFSET_HELP = (
    'write e.g. "immediately", "24 hours before", "3 days after", '
    '"2 business days after", "6 months after" '
    "(units: minutes, hours, days, weeks, business days, months, years)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Offset:
    """A signed distance from an anchor: negative is before, positive after."""

    amount: int
    unit: Unit

    @property
    def label(self) -> str:
        """Stable text used in touchpoint keys: ``24h-before``, ``3d-after``, ``0``."""
        if self.amount == 0:
            return "0d" if self.unit.is_calendar else "0"
        side = "before" if self.amount < 0 else "after"
        return f"{abs(self.amount)}{_SHORT[self.unit]}-{side}"

    @property
    def text(self) -> str:
        """How a user writes it: ``immediately``, ``24 hours before``."""
        if self.amount == 0:
            return "0 days after" if self.unit.is_calendar else "immediately"
        side = "before" if self.amount < 0 else "after"
        word = self.unit.value.replace("_", " ")
        if abs(self.amount) == 1:
            word = word.removesuffix("s")
        return f"{abs(self.amount)} {word} {side}"

    def exact(self) -> timedelta:
        """The offset as an exact duration (only for minutes and hours)."""
        if self.unit is Unit.MINUTES:
            return timedelta(minutes=self.amount)
        if self.unit is Unit.HOURS:
            return timedelta(hours=self.amount)
        raise ValueError(f"{self.unit} is not an exact duration")

    def calendar_days(self) -> int:
        """Whole local days for DAYS and WEEKS."""
        if self.unit is Unit.DAYS:
            return self.amount
        if self.unit is Unit.WEEKS:
            return self.amount * 7
        raise ValueError(f"{self.unit} is not counted in calendar days")

    def calendar_months(self) -> int:
        """Whole calendar months for MONTHS and YEARS."""
        if self.unit is Unit.MONTHS:
            return self.amount
        if self.unit is Unit.YEARS:
            return self.amount * 12
        raise ValueError(f"{self.unit} is not counted in calendar months")


IMMEDIATELY = Offset(amount=0, unit=Unit.MINUTES)


def parse_offset(text: object) -> Offset:
    if not isinstance(text, str):
        raise ValueError(f"offset must be text; {OFFSET_HELP}")
    if text.strip().lower() in ("immediately", "at", "on", "0"):
        return IMMEDIATELY
    match = _OFFSET_RE.match(text)
    if not match:
        raise ValueError(f"cannot read offset {text!r}; {OFFSET_HELP}")
    unit_word = " ".join(match["unit"].lower().split())
    unit = _UNIT_WORDS.get(unit_word)
    if unit is None:
        raise ValueError(f"unknown unit {match['unit']!r} in {text!r}; {OFFSET_HELP}")
    amount = int(match["n"])
    if amount > _MAX_OFFSET[unit]:
        raise ValueError(f"offset {text!r} is too far away; at most {_MAX_OFFSET[unit]} {unit}")
    if match["dir"].lower() == "before":
        amount = -amount
    return _canonical(amount, unit)


def _canonical(amount: int, unit: Unit) -> Offset:
    """One spelling per distance, so "1 week after" and "7 days after" share one key."""
    if amount == 0:
        # "0 days after" keeps a day (for `at`: that day at a time); other zeros are "now".
        return Offset(amount=0, unit=Unit.DAYS) if unit.is_calendar else IMMEDIATELY
    if unit is Unit.WEEKS:
        return Offset(amount=amount * 7, unit=Unit.DAYS)
    if unit is Unit.MONTHS and amount % 12 == 0:  # a year is twelve months, to the day
        return Offset(amount=amount // 12, unit=Unit.YEARS)
    return Offset(amount=amount, unit=unit)


def parse_period(text: object) -> timedelta:
    """A positive duration like ``7 days``, ``24 hours``, ``2 weeks``."""
    if not isinstance(text, str):
        raise ValueError('period must be text like "7 days" or "24 hours"')
    match = _PERIOD_RE.match(text)
    unit = _UNIT_WORDS.get(match["unit"].lower()) if match else None
    if unit in (Unit.MONTHS, Unit.YEARS):
        raise ValueError(
            f'period {text!r}: months and years vary in length; write days, e.g. "30 days"'
        )
    if match is None or unit is None or unit not in _PERIOD_UNITS:
        raise ValueError(f'cannot read period {text!r}; write e.g. "7 days", "24 hours", "2 weeks"')
    n = int(match["n"])
    if n <= 0:
        raise ValueError(f"period {text!r} must be longer than zero")
    per_unit = {
        Unit.MINUTES: timedelta(minutes=1),
        Unit.HOURS: timedelta(hours=1),
        Unit.DAYS: timedelta(days=1),
        Unit.WEEKS: timedelta(weeks=1),
    }[unit]
    return per_unit * n


def parse_time_of_day(text: object) -> time:
    """``"09:00"`` → time(9, 0). Quote times in YAML; both ``9:00`` and ``09:00`` work."""
    match = _TIME_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'cannot read time of day {text!r}; write it as "HH:MM", e.g. "09:30"')
    hour, minute = int(match["h"]), int(match["m"])
    if hour > 23 or minute > 59:
        raise ValueError(f"time of day {text!r} is out of range (00:00 to 23:59)")
    return time(hour, minute)


def period_text(period: timedelta) -> str:
    """``7 days``, ``36 hours``, ``90 minutes``: the words a user would have written."""
    seconds = int(period.total_seconds())
    for size, word in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {word}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
