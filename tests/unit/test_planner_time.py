"""Time is the hard part: DST gaps and folds, Feb 29, holidays, business days, cron dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import customer, event, facts, local, planned, project, run, utc

from touchflow.rules.schema import Feb29
from touchflow.timecalc import resolve_local, yearly_date

DAILY_AT_0230 = """
- id: daily
  category: transactional
  trigger: {cron: "30 2 * * *"}
  action: {template: t}
"""

# (zone, local date, local time, expected UTC instant). Each zone's spring gap and autumn
# fold: New York changes at 02:00 local, so its ambiguous hour is 01:00-02:00.
DST_CASES = [
    pytest.param("Europe/Berlin", "2026-03-29", "02:30", "2026-03-29T01:00:00Z", id="berlin-gap"),
    pytest.param("Europe/Berlin", "2026-10-25", "02:30", "2026-10-25T00:30:00Z", id="berlin-fold"),
    pytest.param("America/New_York", "2026-03-08", "02:30", "2026-03-08T07:00:00Z", id="ny-gap"),
    pytest.param("America/New_York", "2026-11-01", "01:30", "2026-11-01T05:30:00Z", id="ny-fold"),
    pytest.param("Australia/Sydney", "2026-10-04", "02:30", "2026-10-03T16:00:00Z", id="syd-gap"),
    pytest.param("Australia/Sydney", "2026-04-05", "02:30", "2026-04-04T15:30:00Z", id="syd-fold"),
]


@pytest.mark.parametrize(("zone", "day", "at", "expected"), DST_CASES)
def test_a_local_time_on_a_dst_change_day_sends_once_at_the_first_valid_instant(
    tmp_path, zone, day, at, expected
):
    hour, minute = at.split(":")
    config, rules = project(
        tmp_path, DAILY_AT_0230.replace("30 2 *", f"{int(minute)} {int(hour)} *")
    )
    cust = customer(timezone=zone)
    start = datetime.combine(date.fromisoformat(day), time(0), tzinfo=ZoneInfo(zone))
    tps = run(config, rules, facts(cust), start=start.isoformat(), days=1)
    assert [tp.due_at for tp in tps] == [utc(expected)]


def test_a_gap_moves_forward_to_the_moment_the_clocks_jump():
    instant, in_gap = resolve_local(date(2026, 3, 29), time(2, 30), ZoneInfo("Europe/Berlin"))
    assert in_gap
    assert instant.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M %Z") == "03:00 CEST"


def test_a_fold_resolves_to_the_first_of_the_two_instants():
    instant, in_gap = resolve_local(date(2026, 10, 25), time(2, 30), ZoneInfo("Europe/Berlin"))
    assert not in_gap
    assert instant.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M %Z") == "02:30 CEST"


def test_dst_gap_is_recorded_as_an_adjustment(tmp_path):
    config, rules = project(tmp_path, DAILY_AT_0230)
    tps = run(config, rules, facts(customer()), start="2026-03-29T00:00:00+01:00", days=1)
    assert [a.value for a in tps[0].adjustments] == ["dst_gap"]


ZONES = sorted(
    z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV"))
)


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    day=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    minute_of_day=st.integers(min_value=0, max_value=24 * 60 - 1),
)
def test_a_daily_local_time_fires_exactly_once_per_local_day(zone, day, minute_of_day):
    """For any zone, day and local time: one instant per day, on that local day, never twice."""
    tz = ZoneInfo(zone)
    at = time(minute_of_day // 60, minute_of_day % 60)
    instants = [resolve_local(day + timedelta(days=i), at, tz)[0] for i in range(-1, 2)]
    assert instants[0] < instants[1] < instants[2]
    local_days = [i.astimezone(tz).date() for i in instants]
    assert local_days == [day - timedelta(days=1), day, day + timedelta(days=1)]
    # The chosen instant is the wall time itself, or (in a gap) the first instant after it.
    wall = instants[1].astimezone(tz).replace(tzinfo=None)
    assert wall >= datetime.combine(day, at)
    assert wall - datetime.combine(day, at) <= timedelta(hours=2)


@settings(max_examples=25, deadline=None)
@given(zone=st.sampled_from(ZONES), start=st.dates(date(2024, 1, 1), date(2030, 12, 1)))
def test_the_planner_yields_one_send_per_local_day_for_a_daily_rule(tmp_path_factory, zone, start):
    config, rules = project(tmp_path_factory.mktemp("p"), DAILY_AT_0230)
    tz = ZoneInfo(zone)
    begin = datetime.combine(start, time(0), tzinfo=tz)
    end = datetime.combine(start + timedelta(days=30), time(0), tzinfo=tz)
    tps = run(
        config,
        rules,
        facts(customer(timezone=zone)),
        start=begin.isoformat(),
        days=(end - begin).days + 1,
    )
    days = [tp.due_at.astimezone(tz).date() for tp in tps if tp.due_at < end.astimezone(UTC)]
    assert days == [start + timedelta(days=i) for i in range(30)]
    assert len({tp.key for tp in tps}) == len(tps)


# --- Feb 29 -----------------------------------------------------------------------------

FEB29_EXPECTED = {
    Feb29.FEB28: lambda y: date(y, 2, 29) if _leap(y) else date(y, 2, 28),
    Feb29.MAR1: lambda y: date(y, 2, 29) if _leap(y) else date(y, 3, 1),
    Feb29.SKIP: lambda y: date(y, 2, 29) if _leap(y) else None,
}


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@pytest.mark.parametrize("policy", list(Feb29), ids=lambda p: p.value)
def test_feb29_birthdays_follow_the_policy_every_year_2025_to_2040(tmp_path, policy):
    config, rules = project(
        tmp_path,
        f"""
        - id: birthday
          category: transactional
          trigger: {{yearly: customer.birthday, feb29: {policy.value}}}
          at: "09:00"
          action: {{template: t}}
        """,
    )
    cust = customer(birthday=date(2000, 2, 29), timezone="UTC")
    tps = run(config, rules, facts(cust), start="2025-01-01T00:00:00Z", days=16 * 366)
    got = [tp.due_at.date() for tp in tps if tp.due_at.year <= 2040]
    expected = [FEB29_EXPECTED[policy](y) for y in range(2025, 2041)]
    assert got == [e for e in expected if e is not None]
    assert [tp.context["occurrence"]["years"] for tp in tps[:2]] == [
        y - 2000 for y in range(2025, 2041) if FEB29_EXPECTED[policy](y)
    ][:2]


def test_yearly_date_helper_matches_the_policies():
    assert yearly_date(2, 29, 2027, Feb29.FEB28) == date(2027, 2, 28)
    assert yearly_date(2, 29, 2027, Feb29.MAR1) == date(2027, 3, 1)
    assert yearly_date(2, 29, 2027, Feb29.SKIP) is None
    assert yearly_date(2, 29, 2028, Feb29.SKIP) == date(2028, 2, 29)


def test_no_anniversary_card_on_the_signup_day_itself(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: anniversary
          category: transactional
          trigger: {yearly: customer.customer_since}
          action: {template: t}
        """,
    )
    cust = customer(customer_since=date(2026, 5, 10))
    tps = run(config, rules, facts(cust), start="2026-05-01T00:00:00Z", days=400)
    assert [(local(tp), tp.context["occurrence"]["years"]) for tp in tps] == [
        ("2027-05-10 09:00", 1)
    ]


# --- holidays ---------------------------------------------------------------------------

HOLIDAY_RULE = """
- id: greeting
  category: transactional
  trigger: {holiday: %s}
  send: 1 day before
  at: "10:00"
  action: {template: t}
"""


@pytest.mark.parametrize(
    ("country", "zone", "name", "expected"),
    [
        pytest.param("US", "America/Chicago", "Thanksgiving Day", "2026-11-25 10:00", id="us"),
        pytest.param("DE", "Europe/Berlin", "Christmas Day", "2026-12-24 10:00", id="de"),
        pytest.param("GB", "Europe/London", "Christmas Day", "2026-12-24 10:00", id="gb"),
        pytest.param("FR", "Europe/Paris", "Christmas Day", "2026-12-24 10:00", id="fr"),
    ],
)
def test_a_named_holiday_comes_from_the_customers_country(tmp_path, country, zone, name, expected):
    config, rules = project(tmp_path, HOLIDAY_RULE % name)
    cust = customer(country=country, timezone=zone)
    tps = run(config, rules, facts(cust), start="2026-11-01T00:00:00Z", days=60)
    assert [local(tp) for tp in tps] == [expected]
    assert tps[0].context["occurrence"]["holiday"] == name


def test_a_country_without_that_holiday_gets_nothing(tmp_path):
    config, rules = project(tmp_path, HOLIDAY_RULE % "Thanksgiving Day")
    tps = run(config, rules, facts(customer(country="DE")), start="2026-11-01T00:00:00Z", days=60)
    assert tps == []


def test_a_fixed_date_each_year(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: new-year
          category: transactional
          trigger: {date: "01-01"}
          at: "10:00"
          action: {template: t}
        """,
    )
    cust = customer(timezone="Asia/Tokyo")
    tps = run(config, rules, facts(cust), start="2026-12-01T00:00:00Z", days=400)
    assert [local(tp) for tp in tps] == ["2027-01-01 10:00", "2028-01-01 10:00"]
    assert tps[0].due_at == utc("2027-01-01T01:00:00Z")


def test_monthly_cron_recurrence_in_local_time(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: sale
          category: transactional
          trigger: {cron: "0 10 1 * *"}
          action: {template: t}
        """,
    )
    cust = customer(timezone="America/New_York")
    tps = run(config, rules, facts(cust), start="2026-01-15T00:00:00Z", days=100)
    assert [local(tp) for tp in tps] == ["2026-02-01 10:00", "2026-03-01 10:00", "2026-04-01 10:00"]
    assert [tp.due_at.hour for tp in tps] == [15, 15, 14]  # EST, EST, then EDT


# --- business days ----------------------------------------------------------------------


def test_business_days_skip_weekends_and_the_customers_holidays(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: follow-up
          category: transactional
          trigger: {event: purchase_completed}
          send: 2 business days after
          at: "11:00"
          action: {template: t}
        """,
    )
    # Wednesday 23 Dec 2026, Berlin: Thu 24 is a working day in DE, 25 and 26 are holidays,
    # 27 is Sunday: two business days later is Monday 28 Dec.
    purchase = event("purchase_completed", "2026-12-23T15:00:00+01:00")
    tps = run(config, rules, facts(customer(), [purchase]), start="2026-12-23T00:00:00Z", days=14)
    assert [local(tp) for tp in tps] == ["2026-12-28 11:00"]


def test_business_days_on_a_friday_land_on_tuesday(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: follow-up
          category: transactional
          trigger: {event: purchase_completed}
          send: 2 business days after
          action: {template: t}
        """,
    )
    purchase = event("purchase_completed", "2026-11-20T16:45:00+01:00")  # a Friday
    tps = run(config, rules, facts(customer(), [purchase]), start="2026-11-20T00:00:00Z", days=14)
    assert [local(tp) for tp in tps] == ["2026-11-24 16:45"]  # keeps the local time


def test_days_after_keep_the_local_wall_time_across_dst(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: survey
          category: transactional
          trigger: {event: purchase_completed}
          send: 3 days after
          action: {template: t}
        """,
    )
    purchase = event("purchase_completed", "2026-10-23T10:00:00+02:00")
    tps = planned(
        run(config, rules, facts(customer(), [purchase]), start="2026-10-20T00:00:00Z", days=14)
    )
    assert [local(tp) for tp in tps] == ["2026-10-26 10:00"]  # CET now, still 10:00 local


def test_a_feb29_customer_completes_a_year_on_feb28_in_common_years():
    from touchflow.rules.context import full_years

    assert full_years(date(2020, 2, 29), date(2025, 2, 28)) == 5
    assert full_years(date(2020, 2, 29), date(2025, 2, 27)) == 4
    assert full_years(date(2020, 2, 29), date(2028, 2, 28)) == 7  # leap year: waits for the 29th
