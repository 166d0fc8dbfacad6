"""`--now` and `?now=`: a date means whole local days, an instant means N x 24 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from touchflow.models import Window
from touchflow.plan.moment import BadMoment, read_moment
from touchflow.plan.preview import window_text

BERLIN = "Europe/Berlin"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("day", "days", "start", "end", "hours"),
    [
        pytest.param("2027-10-31", 1, "2027-10-30T22:00Z", "2027-10-31T23:00Z", 25, id="autumn"),
        pytest.param("2027-03-28", 1, "2027-03-27T23:00Z", "2027-03-28T22:00Z", 23, id="spring"),
        pytest.param("2027-11-10", 1, "2027-11-09T23:00Z", "2027-11-10T23:00Z", 24, id="ordinary"),
        pytest.param("2027-03-27", 7, "2027-03-26T23:00Z", "2027-04-02T22:00Z", 167, id="week"),
    ],
)
def test_a_date_covers_whole_local_days(
    day: str, days: int, start: str, end: str, hours: int
) -> None:
    window = read_moment(day, BERLIN).window(days)
    assert (window.start, window.end) == (utc(start), utc(end))
    assert window.end - window.start == timedelta(hours=hours)


def test_a_day_whose_midnight_does_not_exist_begins_when_the_clocks_jump() -> None:
    # Santiago moves from 00:00 -04 to 01:00 -03 on 2026-09-06.
    window = read_moment("2026-09-06", "America/Santiago").window(1)
    assert window.start == utc("2026-09-06T04:00Z")
    assert window.end == utc("2026-09-07T03:00Z")


def test_an_instant_looks_n_times_24_hours_ahead() -> None:
    moment = read_moment("2027-10-31T01:00:00+02:00", BERLIN)
    assert moment.day is None
    assert moment.window(2) == Window(start=utc("2027-10-30T23:00Z"), end=utc("2027-11-01T23:00Z"))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2026-12-24T09:00", "has no UTC offset"),
        ("tomorrow", "cannot read 'tomorrow'; write e.g. 2026-12-24"),
        ("0001-01-01", r"outside the years touchflow accepts \(1900-01-01 to 2200-12-31\)"),
        ("9999-12-31T23:00:00Z", "outside the years touchflow accepts"),
        ("0001-01-01T00:00:00+14:00", "outside the years touchflow accepts"),
        ("2200-12-31T23:00:00-05:00", "outside the years touchflow accepts"),  # 2201 in UTC
    ],
)
def test_what_cannot_be_read_says_what_would_be_right(text: str, words: str) -> None:
    with pytest.raises(BadMoment, match=words):
        read_moment(text, BERLIN)


def test_a_window_past_the_year_9999_is_refused_in_words() -> None:
    with pytest.raises(BadMoment, match="3000000 days from 2200-12-30 end after the year 9999"):
        read_moment("2200-12-30", BERLIN).window(3_000_000)


@pytest.mark.parametrize(
    ("now", "days", "text"),
    [
        pytest.param(
            "2027-10-31", 1, "from 2027-10-31 00:00 to 2027-11-01 00:00 (Europe/Berlin, 25 hours)",
            id="autumn-date",
        ),
        pytest.param(
            "2027-03-28", 1, "from 2027-03-28 00:00 to 2027-03-29 00:00 (Europe/Berlin, 23 hours)",
            id="spring-date",
        ),
        pytest.param(
            "2027-11-10", 1, "from 2027-11-10 00:00 to 2027-11-11 00:00 (Europe/Berlin)",
            id="ordinary-date",
        ),
        pytest.param(
            "2027-10-30T09:00:00Z", 1,
            "from 2027-10-30 11:00 to 2027-10-31 10:00 (Europe/Berlin, 24 hours)",
            id="instant-over-the-change",
        ),
    ],
)  # fmt: skip
def test_the_header_shows_the_real_span(now: str, days: int, text: str) -> None:
    assert window_text(read_moment(now, BERLIN).window(days), BERLIN) == text
