"""The calendar's month grid from a forecast's counts: whole weeks, shades, the rate mark."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from touchflow.console.calendar import LEVELS, Day, grid, shade
from touchflow.models import Category, Window
from touchflow.plan.forecast import PLANNED, ForecastRequest, GroupBy, Tally
from touchflow.plan.forecast_summary import summarize

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # a Wednesday


def _minute(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp()) // 60


def _month(rate: float | None) -> tuple[tuple[Day, ...], ...]:
    tally = Tally()
    tally.sends[(_minute("2026-11-26T09:00:00+00:00"), "r", "transactional", PLANNED)] = 4
    tally.sends[(_minute("2026-11-26T10:00:00+00:00"), "r", "transactional", PLANNED)] = 1
    tally.sends[(_minute("2026-11-27T09:30:00+00:00"), "r", "transactional", PLANNED)] = 1
    tally.sends[(_minute("2026-11-27T09:30:00+00:00"), "r", "transactional", "cancelled")] = 2
    request = ForecastRequest(window=Window.of_days(START, 7), timezone="Europe/Berlin")
    rules = [("r", Category.TRANSACTIONAL)]
    by_day = summarize(tally, request, rules, rate)
    by_hour = summarize(tally, replace(request, by=GroupBy.HOUR), rules, rate)
    return grid(by_day, by_hour)


def test_the_grid_pads_whole_weeks_from_monday() -> None:
    weeks = _month(None)
    days = [d.day for week in weeks for d in week]
    assert days[0] == date(2026, 11, 23) and days[-1] == date(2026, 12, 6)
    assert len(weeks) == 2
    inside = [d.day for week in weeks for d in week if d.inside]
    assert inside[0] == date(2026, 11, 25) and inside[-1] == date(2026, 12, 2)


def test_days_carry_their_counts_shade_and_the_rate_mark() -> None:
    days = {d.day: d for week in _month(3 / 3600) for d in week}
    thursday, friday = days[date(2026, 11, 26)], days[date(2026, 11, 27)]
    assert (thursday.planned, thursday.held, thursday.level) == (5, 0, LEVELS)
    assert (friday.planned, friday.held, friday.level) == (1, 2, 1)
    assert thursday.peak_hour == 4 and thursday.over_rate  # 4 in one hour, 3 an hour allowed
    assert not friday.over_rate
    assert not any(d.over_rate for week in _month(None) for d in week)


@pytest.mark.parametrize(
    ("planned", "most", "level"), [(0, 10, 0), (1, 10, 1), (3, 10, 2), (10, 10, LEVELS), (5, 0, 0)]
)
def test_shade(planned: int, most: int, level: int) -> None:
    assert shade(planned, most) == level
