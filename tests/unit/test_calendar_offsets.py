"""Offsets in months and years: calendar dates, clamped to the month's end, Feb 29 by policy."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import customer, event, facts, local, planned, project, run

from touchflow.durations import Offset, Unit, parse_offset, parse_period
from touchflow.errors import RuleError
from touchflow.rules.schema import Feb29
from touchflow.timecalc import add_months

RECALL = """
- id: dental-recall
  category: transactional
  trigger: {event: check_up_done}
  send: 6 months after
  action: {template: t}
"""


@pytest.mark.parametrize(
    ("text", "label", "words"),
    [
        ("6 months after", "6mo-after", "6 months after"),
        ("1 month before", "1mo-before", "1 month before"),
        ("1 year after", "1y-after", "1 year after"),
        ("2 Years before", "2y-before", "2 years before"),
        ("12 months after", "1y-after", "1 year after"),  # one spelling per distance
        ("24 months before", "2y-before", "2 years before"),
        ("0 months after", "0d", "0 days after"),
    ],
)
def test_months_and_years_are_offsets_with_stable_key_parts(text, label, words):
    offset = parse_offset(text)
    assert (offset.label, offset.text) == (label, words)


def test_more_than_ten_years_of_months_is_too_far():
    assert parse_offset("120 months after") == Offset(amount=10, unit=Unit.YEARS)
    with pytest.raises(ValueError, match="at most 120 months"):
        parse_offset("121 months after")
    with pytest.raises(ValueError, match="at most 10 years"):
        parse_offset("11 years before")


def test_a_period_in_months_is_refused_with_what_to_write_instead():
    with pytest.raises(ValueError, match="vary in length; write days"):
        parse_period("1 month")


def test_12_months_and_1_year_in_one_rule_are_the_same_moment(tmp_path):
    with pytest.raises(RuleError, match="send lists '1 year after' twice"):
        project(tmp_path, RECALL.replace("6 months after", "[12 months after, 1 year after]"))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        pytest.param("2026-01-31", 1, "2026-02-28", id="jan31-to-common-feb"),
        pytest.param("2028-01-31", 1, "2028-02-29", id="jan31-to-leap-feb"),
        pytest.param("2026-08-31", 6, "2027-02-28", id="aug31-six-months"),
        pytest.param("2026-03-31", -1, "2026-02-28", id="mar31-month-before"),
        pytest.param("2026-05-31", 1, "2026-06-30", id="may31-to-june30"),
        pytest.param("2026-11-15", 3, "2027-02-15", id="over-new-year"),
        pytest.param("2027-01-15", -3, "2026-10-15", id="back-over-new-year"),
        pytest.param("2028-02-29", 12, "2029-02-28", id="feb29-year-default-feb28"),
        pytest.param("2028-02-29", 48, "2032-02-29", id="feb29-four-years-leap"),
        pytest.param("2028-02-29", 1, "2028-03-29", id="feb29-next-month"),
    ],
)
def test_a_month_offset_moves_the_calendar_date_clamped_to_the_months_end(day, months, expected):
    assert add_months(date.fromisoformat(day), months) == date.fromisoformat(expected)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(Feb29.FEB28, date(2029, 2, 28)), (Feb29.MAR1, date(2029, 3, 1)), (Feb29.SKIP, None)],
)
def test_feb29_moved_into_a_common_february_follows_the_policy(policy, expected):
    assert add_months(date(2028, 2, 29), 12, policy) == expected
    assert add_months(date(2028, 2, 29), -12, policy) == (expected and expected.replace(year=2027))


# Away from the ends of the calendar by more than the longest offset (ten years).
DAYS = st.dates(min_value=date(11, 1, 1), max_value=date(9989, 12, 31))
MONTHS = st.integers(min_value=-120, max_value=120)


@given(DAYS, MONTHS)
def test_month_arithmetic_never_raises_and_never_passes_the_anchors_day(day, months):
    moved = add_months(day, months)
    assert moved is not None
    assert moved.day <= day.day
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months


@given(DAYS, MONTHS)
def test_before_undoes_after_on_a_day_that_was_not_clamped(day, months):
    moved = add_months(day, months)
    assert moved is not None
    if moved.day == day.day:
        assert add_months(moved, -months) == day


def test_a_recall_six_months_after_a_check_up_keeps_the_local_time(tmp_path):
    config, rules = project(tmp_path, RECALL)
    visit = event("check_up_done", "2026-08-31T10:15:00+02:00", id="v1")
    tps = run(config, rules, facts(customer(), [visit]), start="2027-02-01T00:00:00Z", days=30)
    # Feb has no 31st: the end of February, not early March; 10:15 in winter time too.
    assert [(local(tp), tp.key) for tp in tps] == [
        ("2027-02-28 10:15", "dental-recall:c1:v1:6mo-after")
    ]


@pytest.mark.parametrize(
    ("visit", "due_utc", "adjustments"),
    [
        # 02:30 on 28 March 2027 does not exist in Berlin: the clocks jump to 03:00.
        pytest.param("2026-09-28T02:30:00+02:00", "2027-03-28 01:00", ("dst_gap",), id="gap"),
        # 02:30 on 25 October 2026 happens twice: the first (summer time) one.
        pytest.param("2026-04-25T02:30:00+02:00", "2026-10-25 00:30", (), id="fold"),
    ],
)
def test_a_month_offset_lands_on_a_local_time_and_dst_is_settled_after(
    tmp_path, visit, due_utc, adjustments
):
    config, rules = project(tmp_path, RECALL)
    start = due_utc[:8] + "01T00:00:00Z"
    check_up = event("check_up_done", visit)
    tps = run(config, rules, facts(customer(), [check_up]), start=start, days=40)
    assert [(local(tp, "UTC"), tuple(a.value for a in tp.adjustments)) for tp in tps] == [
        (due_utc, adjustments)
    ]


def test_a_month_before_a_fixed_date_is_the_same_day_of_the_month_before(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: quarter-end-notice
          category: transactional
          trigger: {date: "03-31"}
          send: 1 month before
          at: "11:00"
          action: {template: t}
        """,
    )
    # A short preview a month before the date: the date is looked for far enough ahead.
    tps = run(config, rules, facts(customer()), start="2027-02-25T00:00:00Z", days=7)
    assert [(local(tp), tp.key) for tp in tps] == [
        ("2027-02-28 11:00", "quarter-end-notice:c1:2027:1mo-before")
    ]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("feb28", ["2029-02-28 09:00"]), ("mar1", ["2029-03-01 09:00"]), ("skip", [])],
)
def test_a_year_after_a_feb29_date_follows_the_triggers_feb29_policy(tmp_path, policy, expected):
    config, rules = project(
        tmp_path,
        f"""
        - id: leap-day-echo
          category: transactional
          trigger: {{date: "02-29", feb29: {policy}}}
          send: 1 year after
          action: {{template: t}}
        """,
    )
    tps = run(config, rules, facts(customer()), start="2029-02-01T00:00:00Z", days=30)
    assert [local(tp) for tp in tps] == expected
    assert all(tp.occurrence == "2028" for tp in tps)


def test_a_years_offset_from_an_events_date_field_is_sent_at_send_time(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: warranty-ends
          category: transactional
          trigger: {event: purchase_completed, anchor: event.data.delivered_on}
          send: 2 years after
          action: {template: t}
        """,
        """
        events:
          purchase_completed: {delivered_on: date}
        """,
    )
    bought = event("purchase_completed", "2025-03-01T12:00:00Z", {"delivered_on": "2025-03-03"})
    tps = planned(
        run(config, rules, facts(customer(), [bought]), start="2027-03-01T00:00:00Z", days=7)
    )
    assert [local(tp) for tp in tps] == ["2027-03-03 09:00"]
