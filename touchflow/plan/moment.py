"""What `--now` and `?now=` say: an instant, or a whole day in the project's zone.

A date names a calendar day, so a preview of N days from a date covers N whole
local days: from its local midnight to the local midnight N days later, 23 or 25
hours when the clocks change in between, never a slice of the next day. An
instant means "from this moment": the window is N x 24 hours from it, as the
daemon's horizon is a span of real time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from touchflow import years
from touchflow.errors import UserError
from touchflow.models import Window
from touchflow.timecalc import resolve_local, zone
from touchflow.words import counted

EXAMPLES = "write e.g. 2026-12-24 or 2026-12-24T09:00:00+01:00"


class BadMoment(UserError):
    """`--now` (or `?now=`) cannot be read; the edge names the option."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Moment:
    instant: datetime  # UTC; for a day, the first instant of it in the project's zone
    day: date | None = None  # set when a date was given: windows count local days
    timezone: str  # the project's zone, which local days are counted in

    def window(self, days: int) -> Window:
        """[this moment, N days later): whole local days from a date, N x 24 h from an instant."""
        try:
            if self.day is None:
                return Window.of_days(self.instant, days)
            end = _first_instant(self.day + timedelta(days=days), self.timezone)
        except OverflowError:
            start = self.day or self.instant.date()
            raise BadMoment(
                f"{counted(days, 'day')} from {start} end after the year 9999"
            ) from None
        return Window(start=self.instant, end=end)


def read_moment(text: str, tz_name: str) -> Moment:
    """An ISO 8601 instant with a UTC offset, or a date (its local midnight in ``tz_name``)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            _in_range(text, years.date_problem(day))
            return Moment(instant=_first_instant(day, tz_name), day=day, timezone=tz_name)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise BadMoment(
                f"{text!r} has no UTC offset; add one (e.g. +01:00 or Z), or give just a date"
            )
        _in_range(text, years.instant_problem(parsed))
        return Moment(instant=parsed.astimezone(UTC), timezone=tz_name)
    except ValueError:
        raise BadMoment(f"cannot read {text!r}; {EXAMPLES}") from None
    except OverflowError:
        raise BadMoment(f"{text!r} lies outside the years 1 to 9999 in UTC") from None


def _in_range(text: str, problem: str | None) -> None:
    # A plan from the year 9999 overflows; one from 0001 plans nothing anyone wants.
    if problem is not None:
        raise BadMoment(f"{text!r} {problem}")


def _first_instant(day: date, tz_name: str) -> datetime:
    # Midnight may not exist (a few zones change their clocks at 00:00): then the
    # day begins when the clocks jump, which is what resolve_local returns.
    return resolve_local(day, time(0), zone(tz_name))[0]
