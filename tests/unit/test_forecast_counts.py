"""The forecast's counting, pure: touchpoints in, groups, peaks and checks out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support import utc

from touchflow.config.caps import Cap
from touchflow.models import Category, HoldReason, PlannedTouchpoint, Status, Window
from touchflow.plan.forecast import (
    ForecastRequest,
    Frequency,
    GroupBy,
    Tally,
    frequency_for,
    most_in_a_period,
)
from touchflow.plan.forecast_summary import Forecast, summarize
from touchflow.plan.forecast_views import CSV_COLUMNS, as_csv, as_json, rate_words

RULES = [("birthday", Category.MARKETING), ("reminder", Category.TRANSACTIONAL)]
WINDOW = Window(start=utc("2026-11-30T23:00:00Z"), end=utc("2026-12-02T23:00:00Z"))  # Berlin


def tp(
    due: str,
    *,
    rule: str = "birthday",
    customer: str = "c1",
    held: HoldReason | None = None,
) -> PlannedTouchpoint:
    category = dict(RULES)[rule]
    return PlannedTouchpoint(
        key=f"{rule}:{customer}:{due}",
        rule_id=rule,
        customer_id=customer,
        occurrence=due,
        channel="email",
        template=rule,
        category=category,
        priority=0,
        due_at=utc(due),
        timezone="Europe/Berlin",
        status=Status.PLANNED if held is None else Status.HELD,
        reason=held,
    )


def request(by: GroupBy = GroupBy.DAY, **kw: object) -> ForecastRequest:
    return ForecastRequest(window=WINDOW, timezone="Europe/Berlin", by=by, **kw)  # type: ignore[arg-type]


def forecast_of(
    touchpoints: list[PlannedTouchpoint],
    wanted: ForecastRequest,
    *,
    rate: float | None = None,
    customers: int = 3,
) -> Forecast:
    tally = Tally()
    tally.add_page(wanted, customers, touchpoints)
    return summarize(tally, wanted, RULES, rate)


SENDS = [
    tp("2026-12-01T08:00:00Z", customer="c1"),  # 09:00 in Berlin on the 1st
    tp("2026-12-01T08:30:00Z", customer="c2"),
    tp("2026-12-01T08:59:00Z", rule="reminder", customer="c2"),
    tp("2026-12-01T09:00:00Z", rule="reminder", customer="c3"),  # 10:00
    tp("2026-12-02T08:00:00Z", customer="c3", held=HoldReason.NO_CONSENT),
]


def test_by_day_lists_every_local_day_of_the_window_with_its_planned_and_held_sends() -> None:
    fc = forecast_of(SENDS, request(GroupBy.DAY))
    assert [(g.label, g.planned, g.held) for g in fc.groups] == [
        ("2026-12-01", 4, 0),
        ("2026-12-02", 0, 1),
    ]
    assert fc.groups[0].rules == {"birthday": 2, "reminder": 2}
    assert (fc.groups[0].marketing, fc.groups[0].transactional) == (2, 2)
    assert (fc.planned, fc.held, fc.customers, fc.reached) == (4, 1, 3, 3)


@pytest.mark.parametrize(
    ("by", "rows"),
    [
        (GroupBy.WEEK, [("2026-W49", 4, 1)]),
        (GroupBy.HOUR, [("2026-12-01T09:00+01:00", 3, 0), ("2026-12-01T10:00+01:00", 1, 0),
                        ("2026-12-02T09:00+01:00", 0, 1)]),
        (GroupBy.RULE, [("birthday", 2, 1), ("reminder", 2, 0)]),
        (GroupBy.CATEGORY, [("transactional", 2, 0), ("marketing", 2, 1)]),
    ],
)  # fmt: skip
def test_each_grouping_counts_the_same_sends_in_its_own_rows(
    by: GroupBy, rows: list[tuple[str, int, int]]
) -> None:
    fc = forecast_of(SENDS, request(by))
    assert [(g.label, g.planned, g.held) for g in fc.groups] == rows
    assert sum(g.planned for g in fc.groups) == fc.planned == 4


def test_filters_keep_only_the_rule_or_category_asked_for() -> None:
    by_rule = forecast_of(SENDS, request(GroupBy.RULE, rule="reminder"))
    assert [(g.label, g.planned) for g in by_rule.groups] == [("reminder", 2)]
    assert by_rule.reached == 2
    marketing = forecast_of(SENDS, request(GroupBy.RULE, category=Category.MARKETING))
    assert [(r.rule, r.planned, dict(r.held)) for r in marketing.rules] == [
        ("birthday", 2, {"no_consent": 1})
    ]


def test_peak_days_and_hours_come_fullest_first() -> None:
    fc = forecast_of(SENDS, request())
    assert [(p.label, p.planned) for p in fc.peak_days] == [("2026-12-01", 4)]
    assert [(p.label, p.planned) for p in fc.peak_hours] == [
        ("2026-12-01T09:00+01:00", 3),
        ("2026-12-01T10:00+01:00", 1),
    ]


def test_without_a_rate_limit_it_says_so_and_names_the_peak_hour() -> None:
    fc = forecast_of(SENDS, request())
    assert fc.rate.enough is None
    assert rate_words(fc.rate) == (
        "no rate limit configured (delivery.smtp.rate); "
        "the peak hour, 2026-12-01T09:00+01:00, has 3 sends"
    )


def test_a_peak_hour_over_the_rate_limit_is_a_warning_with_the_wait() -> None:
    # 3 sends in the peak hour; 2 an hour let out (one every 30 minutes).
    fc = forecast_of(SENDS, request(), rate=2 / 3600)
    assert (fc.rate.enough, fc.rate.hours_over, fc.rate.per_hour) == (False, 1, 2)
    # Due at 09:00, 09:30, 09:59 and 10:00: they leave at 09:00, 09:30, 10:00 and 10:30.
    assert fc.rate.longest_wait == timedelta(minutes=30)
    assert rate_words(fc.rate).startswith("warning: 1 hour has more sends than the rate limit")
    assert rate_words(fc.rate).endswith("the latest send leaves 30 min late")


def test_a_rate_limit_that_lets_the_peak_hour_out_within_the_hour_is_enough() -> None:
    fc = forecast_of(SENDS, request(), rate=1.0)
    assert (fc.rate.enough, fc.rate.hours_over) == (True, 0)
    assert rate_words(fc.rate).startswith("rate limit 1 a second = 3,600 an hour: enough")


def test_the_most_in_a_period_counts_half_open_spans_as_caps_do() -> None:
    week = timedelta(days=7)
    days = [utc(f"2026-12-{d:02d}T09:00:00Z") for d in (1, 3, 8, 9)]
    # 1, 3 | 8: the 8th is exactly a week after the 1st, so in the next span.
    assert most_in_a_period(days, week) == 3  # the 3rd, 8th and 9th
    assert most_in_a_period(days[:3], week) == 2


def test_customers_over_the_frequency_are_counted_from_planned_marketing_only() -> None:
    often = [tp(f"2026-12-0{d}T08:00:00Z", customer="c1") for d in (1, 2)]
    once = [tp("2026-12-01T08:00:00Z", customer="c2")]
    held = [tp("2026-12-02T08:00:00Z", customer="c2", held=HoldReason.CAPPED)]
    wanted = request(frequency=Frequency(limit=1, period=timedelta(days=7), source="--over"))
    fc = forecast_of(often + once + held, wanted)
    assert fc.crowding is not None
    assert (fc.crowding.customers_over, dict(fc.crowding.by_most)) == (1, {1: 1, 2: 1})


def test_the_frequency_comes_from_the_marketing_cap_unless_over_is_given() -> None:
    caps = [Cap(category=Category.MARKETING, max=3, per=timedelta(days=14))]
    assert frequency_for(caps, None) == Frequency(limit=3, period=timedelta(days=14), source="caps")
    assert frequency_for(caps, 1) == Frequency(limit=1, period=timedelta(days=14), source="--over")
    assert frequency_for([], 2) == Frequency(limit=2, period=timedelta(days=7), source="--over")
    assert frequency_for([], None) is None


def test_tallies_of_id_ranges_add_up_to_the_tally_of_everyone() -> None:
    wanted = request(GroupBy.HOUR)
    whole, first, second = Tally(), Tally(), Tally()
    whole.add_page(wanted, 3, SENDS)
    first.add_page(wanted, 2, SENDS[:2])
    second.add_page(wanted, 1, SENDS[2:])
    first.merge(second)
    assert first.sends == whole.sends
    assert first.people["customers"] == whole.people["customers"]


def test_the_csv_has_one_line_per_group_under_a_pinned_header() -> None:
    text = as_csv(forecast_of(SENDS, request(GroupBy.DAY)))
    assert CSV_COLUMNS == ("start", "planned", "held", "marketing", "transactional")
    assert text.splitlines() == [
        "day,start,planned,held,marketing,transactional",
        "2026-12-01,2026-11-30T23:00:00Z,4,0,2,2",
        "2026-12-02,2026-12-01T23:00:00Z,0,1,0,0",
    ]
    assert as_csv(forecast_of(SENDS, request(GroupBy.RULE))).splitlines()[1] == (
        "birthday,,2,1,2,0"
    )


def test_the_json_has_its_documented_keys() -> None:
    doc = as_json(forecast_of(SENDS, request(), rate=1.0))
    assert list(doc) == [
        "window", "by", "filters", "customers", "reached", "planned", "held",
        "held_by_reason", "groups", "rules", "peak_days", "peak_hours", "rate_limit",
        "frequency",
    ]  # fmt: skip
    assert list(doc["groups"][0]) == [
        "group", "start", "planned", "held", "marketing", "transactional", "rules"
    ]  # fmt: skip
    assert doc["rate_limit"] == {
        "per_second": 1.0,
        "per_hour": 3600,
        "peak_hour": {"hour": "2026-12-01T09:00+01:00", "start": "2026-12-01T08:00:00Z",
                      "planned": 3},
        "hours_over": 0,
        "longest_wait_seconds": 0,
        "enough": True,
        "message": rate_words(forecast_of(SENDS, request(), rate=1.0).rate),
    }  # fmt: skip
    assert doc["frequency"] is None


def test_an_empty_window_says_so_with_or_without_a_rate_limit() -> None:
    fc = forecast_of([], request(), rate=1.0)
    assert (fc.planned, fc.held, fc.rate.peak_hour, fc.peak_days) == (0, 0, None, ())
    assert [g.planned for g in fc.groups] == [0, 0]  # every day of the window, still
    assert rate_words(fc.rate) == "rate limit 1 a second = 3,600 an hour; no sends in the window"
    assert rate_words(forecast_of([], request()).rate) == (
        "no rate limit configured (delivery.smtp.rate); no sends in the window"
    )
