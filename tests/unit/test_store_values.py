"""Instants as the store writes them: fixed-width UTC text, whatever zone they come in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from touchflow.store.values import from_utc_text, utc_text

BERLIN = ZoneInfo("Europe/Berlin")


def test_the_two_times_of_a_dst_fold_are_stored_an_hour_apart() -> None:
    # Equal as local times (same zone, fold ignored), they are different instants: a
    # cache keyed on the local time would give the second the first one's text.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)
    second = first.replace(fold=1)
    assert first == second
    assert utc_text(first) == "2026-10-25T00:30:00.000000Z"
    assert utc_text(second) == "2026-10-25T01:30:00.000000Z"


def test_the_same_instant_in_any_zone_is_the_same_text() -> None:
    utc = datetime(2026, 3, 29, 1, 15, 0, 250, tzinfo=UTC)
    texts = {
        utc_text(utc.astimezone(zone)) for zone in (UTC, BERLIN, timezone(timedelta(hours=-5)))
    }
    assert texts == {"2026-03-29T01:15:00.000250Z"}
    assert from_utc_text(utc_text(utc) or "") == utc


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        utc_text(datetime(2026, 1, 1, 10))


def test_no_instant_is_no_text() -> None:
    assert utc_text(None) is None
