"""The calendar's month grid from a forecast's counts: whole weeks, shades, the rate mark,
and each day's sends split by category or rule, in the legend's colours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from touchflow.console.calendar import LEVELS, Day, grid, shade
from touchflow.console.split import HUES, OTHER, WIDTH, SplitBy, split
from touchflow.models import Category, Window
from touchflow.plan.forecast import PLANNED, ForecastRequest, GroupBy, Tally
from touchflow.plan.forecast_summary import Group, summarize

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


# --- the split by category or rule, in colour -------------------------------------------


def _day(label: str, rules: dict[str, int], marketing: int = 0) -> Group:
    planned = sum(rules.values())
    return Group(
        label=label, start=None, planned=planned, held=0, marketing=marketing,
        transactional=planned - marketing, rules=rules,
    )  # fmt: skip


DAYS = (
    _day("2026-11-25", {"reminder": 6, "coupon": 2}, marketing=2),
    _day("2026-11-26", {}),
    _day("2026-11-27", {"reminder": 1, "coupon": 1, "survey": 2}, marketing=3),
)


def test_by_category_both_categories_keep_their_colours_and_count_the_period() -> None:
    legend = split(DAYS, SplitBy.CATEGORY).legend
    assert [(s.label, s.hue, s.count) for s in legend] == [
        ("transactional", "hue-0", 7),
        ("marketing", "hue-1", 5),
    ]
    nothing = split([_day("2026-11-26", {})], SplitBy.CATEGORY).legend
    assert [(s.label, s.hue, s.count) for s in nothing] == [
        ("transactional", "hue-0", 0),
        ("marketing", "hue-1", 0),
    ]


def test_by_rule_the_most_sending_rule_takes_the_first_colour() -> None:
    legend = split(DAYS, SplitBy.RULE).legend
    assert [(s.label, s.hue, s.count) for s in legend] == [
        ("reminder", "hue-0", 7),
        ("coupon", "hue-1", 3),  # a tie with survey: by id
        ("survey", "hue-2", 2),
    ]


def test_rules_beyond_the_palette_share_the_other_colour_named_in_the_legend() -> None:
    many = {f"rule-{i}": 10 + i for i in range(HUES + 2)}  # 9 rules sending, 7 colours
    legend = split([_day("2026-11-25", many)], SplitBy.RULE).legend
    assert [s.hue for s in legend] == [f"hue-{i}" for i in range(HUES - 1)] + [OTHER]
    other = legend[-1]
    assert other.members == ("rule-0", "rule-1", "rule-2")  # the three that send least
    assert other.count == 10 + 11 + 12
    assert sum(s.count for s in legend) == sum(many.values())
    exactly = {f"rule-{i}": 1 for i in range(HUES)}
    assert OTHER not in {s.hue for s in split([_day("d", exactly)], SplitBy.RULE).legend}


@pytest.mark.parametrize("by", list(SplitBy))
def test_each_bar_adds_up_to_its_day_and_the_fullest_day_is_the_widest(by: SplitBy) -> None:
    bars = split(DAYS, by).bars
    for day in DAYS:
        bar = bars[day.label]
        assert bar.total == day.planned == sum(s.count for s in bar.segments)
        assert all(s.count > 0 for s in bar.segments)  # no empty segment to hover over
        ends = [s.x + s.width for s in bar.segments]
        assert [s.x for s in bar.segments[1:]] == pytest.approx(ends[:-1])  # side by side
    assert sum(s.width for s in bars["2026-11-25"].segments) == pytest.approx(WIDTH)
    assert sum(s.width for s in bars["2026-11-27"].segments) == pytest.approx(WIDTH / 2)
    assert bars["2026-11-26"].segments == () and bars["2026-11-26"].words == "no sends"


def test_a_bar_in_words_and_its_segments_in_the_legend_s_colours() -> None:
    result = split(DAYS, SplitBy.RULE)
    bar = result.bars["2026-11-27"]
    assert [(s.label, s.hue, s.count) for s in bar.segments] == [
        ("reminder", "hue-0", 1),
        ("coupon", "hue-1", 1),
        ("survey", "hue-2", 2),
    ]
    assert bar.words == "reminder 1, coupon 1, survey 2"
    by_category = split(DAYS, SplitBy.CATEGORY).bars["2026-11-27"]
    assert by_category.words == "transactional 1, marketing 3"


def test_a_rule_named_like_a_category_is_split_as_a_rule() -> None:
    day = _day("2026-11-25", {"marketing": 2, "welcome": 1}, marketing=0)
    assert split([day], SplitBy.RULE).bars[day.label].words == "marketing 2, welcome 1"
    assert split([day], SplitBy.CATEGORY).bars[day.label].words == "transactional 3"
