"""The years touchflow accepts: 1900 to 2200, checked at every way in.

Python's dates end at the year 9999 and begin at the year 1: an event at
9999-12-31T23:00Z is a valid instant, but a reminder a day after it, or its
local date in a zone east of UTC, is not, and planning it raised for everyone.
No customer's appointment, birthday or coupon lies outside these years, so a
value outside them is a typo or garbage: it is refused where it enters (import,
``touchflow event``, the HTTP interface, ``--now``), with the field named.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)
RANGE = f"{EARLIEST.isoformat()} to {LATEST.isoformat()}"


def date_problem(value: date) -> str | None:
    """Why this date is refused, or None."""
    if EARLIEST <= value <= LATEST:
        return None
    return f"lies outside the years touchflow accepts ({RANGE})"


def instant_problem(value: datetime) -> str | None:
    """Why this aware instant is refused, or None: both its local date and its UTC date
    must lie in the range (checked locally first: ``0001-01-01T00:00+14:00`` has no UTC)."""
    problem = date_problem(value.date())
    if problem is None and value.utcoffset() is not None:
        problem = date_problem(value.astimezone(UTC).date())
    return problem
