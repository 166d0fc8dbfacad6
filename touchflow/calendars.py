"""Public holidays per country (the ``holidays`` package) and business days.

Names are matched in English (``language="en_US"`` where a country has it), so
a rule can say ``holiday: Christmas Day`` for customers in DE, US or FR alike.

Only the countries asked about are imported: the package's country index
(``holidays/countries/__init__.py``) imports all of its ~250 country modules, about
0.15 s, so it is replaced by an empty package that finds each module when named.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import threading
from collections.abc import Iterable
from datetime import date, timedelta
from types import ModuleType
from typing import Any

_COUNTRY_INDEX = "holidays.countries"
_index_lock = threading.Lock()


def _holidays() -> ModuleType:
    """The ``holidays`` package, its country index left unread.

    ``holidays`` itself loads a country's module only when that country is asked for,
    but importing any ``holidays.countries.<module>`` first runs the index, which
    imports every country. An empty package with the index's path stands in for it
    (unless something imported the real one already): submodules are found on that
    path as usual, and a name asked of the package itself is looked up in the
    registry and imported then. tests/integration/test_holiday_index.py checks
    that every country's calendar is the same either way.
    """
    import holidays

    with _index_lock:
        if _COUNTRY_INDEX not in sys.modules and _registry_read_around():
            spec = importlib.util.find_spec(_COUNTRY_INDEX)
            if spec is None:  # pragma: no cover - the package always has it
                return holidays
            index = importlib.util.module_from_spec(spec)  # not executed
            index.__getattr__ = _country_entity  # type: ignore[method-assign]
            sys.modules[_COUNTRY_INDEX] = index
            holidays.countries = index  # where the import system would have put it
    return holidays


def _registry_read_around() -> bool:
    """Whether this ``holidays`` has the registry the stand-in reads (``pyproject.toml``
    admits newer releases than the tests ran): without it, the real index is read,
    slower but right."""
    try:
        from holidays.registry import COUNTRIES, EntityLoader
    except ImportError:
        return False
    return isinstance(COUNTRIES, dict) and callable(
        getattr(EntityLoader, "get_country_codes", None)
    )


def _country_entity(name: str) -> Any:
    """A name of the real country index (``Germany``, ``DE``, ``DEU``…), imported now."""
    from holidays.registry import COUNTRIES

    for module, names in COUNTRIES.items():
        if name in names:
            return getattr(importlib.import_module(f"{_COUNTRY_INDEX}.{module}"), name)
    raise AttributeError(f"module {_COUNTRY_INDEX!r} has no attribute {name!r}")


@functools.lru_cache(maxsize=4096)
def _calendar(country: str, year: int) -> dict[date, str]:
    # Imported at first use: a project with no holidays (nor business days) never pays for it.
    holidays = _holidays()
    try:
        cal = holidays.country_holidays(country, years=year, language="en_US")
    except NotImplementedError:
        # An ISO country the library does not cover: no holidays, weekends still count.
        return {}
    return {day: str(name) for day, name in cal.items()}


@functools.lru_cache(maxsize=1)
def supported_countries() -> frozenset[str]:
    """Every country's ISO alpha-2 code, read from the registry, importing no country.

    (``holidays.list_supported_countries()`` imports every country for its subdivisions,
    and lists each country under its aliases too.)
    """
    holidays = _holidays()
    if _registry_read_around():
        from holidays.registry import EntityLoader

        return frozenset(EntityLoader.get_country_codes(include_aliases=False))
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


# Names are matched in English, so a name a rule asks for is likeliest to be one of these
# countries' own; asking them first spares reading a dozen calendars (AD, AE, AF…) before
# the first that has, say, Thanksgiving Day. The answer is the same in any order.
_ASKED_FIRST = ("US", "GB", "CA", "AU", "IE", "NZ")


@functools.lru_cache(maxsize=256)
def exists_somewhere(wanted: str, year: int) -> bool:
    """Whether any supported country has the holiday; stops at the first that does."""
    supported = supported_countries()
    first = [c for c in _ASKED_FIRST if c in supported]
    rest = sorted(supported.difference(first))
    return any(_holiday_dates(c, year, wanted) for c in (*first, *rest))


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
