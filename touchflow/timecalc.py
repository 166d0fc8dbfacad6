"""Customer-local time, on purpose: DST gaps and folds, Feb 29, cron dates.

A local time that does not exist (spring gap) moves forward to the first valid
instant — the moment the clocks jump. An ambiguous local time (autumn fold)
resolves to its first occurrence, so it fires once.
"""

from __future__ import annotations

import calendar
import enum
import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter


class Feb29(enum.StrEnum):
    """Where a Feb 29 date lands in a year that has none."""

    FEB28 = "feb28"
    MAR1 = "mar1"
    SKIP = "skip"


@functools.lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def resolve_local(day: date, at: time, tz: ZoneInfo) -> tuple[datetime, bool]:
    """The UTC instant of local ``day`` at ``at``; second value: True if it fell in a gap."""
    local = datetime.combine(day, at, tzinfo=tz)  # fold=0: the first of two in a fold
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant, False
    return _gap_end(local, tz), True


def _gap_end(local: datetime, tz: ZoneInfo) -> datetime:
    """First instant whose local wall time is at or after ``local`` (which is in a gap)."""
    wall = local.replace(tzinfo=None)
    # fold=1 reads the wall time with the offset after the jump: an instant before it.
    low = local.replace(fold=1).astimezone(UTC)
    high = local.replace(fold=0).astimezone(UTC)
    if low > high:
        low, high = high, low
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0)


def yearly_date(month: int, day: int, year: int, policy: Feb29) -> date | None:
    """``month-day`` in ``year``; Feb 29 in a common year follows the policy."""
    if month == 2 and day == 29 and not _is_leap(year):
        if policy is Feb29.FEB28:
            return date(year, 2, 28)
        if policy is Feb29.MAR1:
            return date(year, 3, 1)
        return None
    return date(year, month, day)


def add_months(day: date, months: int, feb29: Feb29 = Feb29.FEB28) -> date | None:
    """``day`` moved by whole calendar months (negative: back); None if ``feb29`` skips it.

    A day the target month lacks is clamped to its last day (Jan 31 + 1 month is
    Feb 28 or 29), so a recall never spills into the month after. A Feb 29 that
    lands in a common year's February follows the rule's Feb 29 policy instead,
    as a yearly date does: ``feb28`` (the same as clamping), ``mar1`` or ``skip``.
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    if day.month == 2 and day.day == 29 and month == 2:
        return yearly_date(2, 29, year, feb29)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@functools.lru_cache(maxsize=65536)
def cron_matches(date_fields: str, day: date) -> bool:
    """Whether the cron day-of-month/month/day-of-week fields select ``day``."""
    return bool(croniter.match(f"0 0 {date_fields}", datetime(day.year, day.month, day.day)))


def validate_cron(expression: str) -> tuple[str, time]:
    """Split ``M H dom mon dow`` into the date fields and the local time of day."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron {expression!r} must have 5 fields: minute hour day-of-month month "
            'day-of-week, e.g. "0 10 1 * *" for 10:00 on the 1st of every month'
        )
    minute, hour = fields[0], fields[1]
    if not (minute.isdigit() and hour.isdigit()) or int(minute) > 59 or int(hour) > 23:
        raise ValueError(
            f"cron {expression!r}: minute and hour must be single numbers (the local send "
            "time); touchflow sends at most once per matching day"
        )
    date_fields = " ".join(fields[2:])
    if not croniter.is_valid(f"0 0 {date_fields}"):
        raise ValueError(f"cron {expression!r}: cannot read the day, month or weekday fields")
    return date_fields, time(int(hour), int(minute))


@functools.lru_cache(maxsize=1024)
def cron_dates(date_fields: str, first: date, last: date) -> tuple[date, ...]:
    """The dates in ``first``..``last`` the cron date fields select.

    Cached: customers in one zone ask for the same range in a planning run.
    """
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return tuple(day for day in days if cron_matches(date_fields, day))
