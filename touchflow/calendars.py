"""Public holidays per country (the ``holidays`` package) and business days.

Names are matched in English (``language="en_US"`` where a country has it), so
a rule can say ``holiday: Christmas Day`` for customers in DE, US or FR alike.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, timedelta


@functools.lru_cache(maxsize=4096)
def _calendar(country: str, year: int) -> dict[date, str]:
    # Imported at first use: a project with no holidays (nor business days) never pays for it.
    import holidays

    try:
        cal = holidays.country_holidays(country, years=year, language="en_US")
    except NotImplementedError:
        # An ISO country the library does not cover: no holidays, weekends still count.
        return {}
    return {day: str(name) for day, name in cal.items()}


@functools.lru_cache(maxsize=1)
def supported_countries() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries())


def holiday_name(country: str | None, day: date) -> str | None:
    """The holiday's name on that day in that country, or None."""
    if not country:
        return None
    return _calendar(country, day.year).get(day)


def is_holiday(country: str | None, day: date) -> bool:
    return holiday_name(country, day) is not None


def _name_matches(wanted: str, name: str) -> bool:
    # A day can carry several names joined by "; " (e.g. two holidays on one date).
    return any(part.strip().casefold() == wanted.casefold() for part in name.split(";"))


def holiday_dates(country: str | None, year: int, wanted: str) -> tuple[date, ...]:
    if not country:
        return ()
    return _holiday_dates(country, year, wanted)


@functools.lru_cache(maxsize=8192)
def _holiday_dates(country: str, year: int, wanted: str) -> tuple[date, ...]:
    # Cached: every customer of a country asks the same question.
    days = (d for d, name in _calendar(country, year).items() if _name_matches(wanted, name))
    return tuple(sorted(days))


@functools.lru_cache(maxsize=256)
def exists_somewhere(wanted: str, year: int) -> bool:
    """Whether any supported country has the holiday; stops at the first that does."""
    return any(_holiday_dates(c, year, wanted) for c in sorted(supported_countries()))


def holiday_names(countries: Iterable[str], years: Iterable[int]) -> set[str]:
    names: set[str] = set()
    for country in countries:
        for year in years:
            for name in _calendar(country, year).values():
                names.update(part.strip() for part in name.split(";"))
    return names


def is_business_day(day: date, country: str | None, weekdays: frozenset[int]) -> bool:
    return day.weekday() in weekdays and not is_holiday(country, day)


def add_business_days(
    start: date, count: int, country: str | None, weekdays: frozenset[int]
) -> date:
    """Step ``count`` business days from ``start`` (negative: backwards).

    ``start`` itself is not counted: 1 business day after a Friday is Monday.
    """
    if not weekdays:
        raise ValueError("no business days configured")
    step = 1 if count >= 0 else -1
    day, remaining = start, abs(count)
    while remaining:
        day += timedelta(days=step)
        if is_business_day(day, country, weekdays):
            remaining -= 1
    return day
