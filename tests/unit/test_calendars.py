"""Holiday calendars: which are read to answer a question, and the answers (issue 15).

Reading a country's calendar imports its module and computes a year of holidays, so a
check that only needs to know whether a name exists anywhere reads as few as it can.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from touchflow import calendars


@pytest.fixture
def fresh() -> Iterator[None]:
    """No calendar read yet (the caches are the process's; emptied before and after)."""
    for cache in (calendars._calendar, calendars._holiday_dates, calendars.exists_somewhere):
        cache.cache_clear()
    yield
    for cache in (calendars._calendar, calendars._holiday_dates, calendars.exists_somewhere):
        cache.cache_clear()


def test_a_holiday_of_an_english_speaking_country_is_found_in_the_first_calendar_read(
    fresh: None,
) -> None:
    # Alphabetically, a dozen calendars (AD, AE, AF…) came before the first with it.
    assert calendars.exists_somewhere("Thanksgiving Day", 2026)
    assert calendars._calendar.cache_info().currsize == 1


def test_a_holiday_only_elsewhere_is_still_found_and_a_made_up_one_is_not(fresh: None) -> None:
    assert calendars.exists_somewhere("German Unity Day", 2026)
    assert not calendars.exists_somewhere("Christmas Dya", 2026)
    # Not found anywhere: every country was read, once each.
    assert calendars._calendar.cache_info().currsize == len(calendars.supported_countries())


def test_supported_countries_are_alpha_2_codes_without_aliases() -> None:
    codes = calendars.supported_countries()
    assert {"DE", "US", "GB", "JP"} <= codes
    assert not {"DEU", "USA", "UK"} & codes
    assert all(len(code) == 2 and code.isupper() for code in codes)


def test_a_holidays_release_without_the_registry_read_around_is_noticed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pyproject.toml admits releases newer than the tests ran: the stand-in for the
    # country index is used only where the registry it reads is there.
    from holidays import registry

    assert calendars._registry_read_around()
    monkeypatch.setattr(registry.EntityLoader, "get_country_codes", None)
    assert not calendars._registry_read_around()
    monkeypatch.delattr(registry, "COUNTRIES")
    assert not calendars._registry_read_around()
