"""Helpers the planner uses for speed: they must behave exactly like what they replace."""

from __future__ import annotations

import gc
from datetime import date
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from touchflow.collector import collector_paused
from touchflow.plan.occurrences import quoted
from touchflow.timecalc import cron_dates


@settings(max_examples=300, deadline=None)
@given(st.text() | st.text(alphabet="abcXYZ019_.-~:/ %é"))
def test_quoted_is_urllib_quote_with_nothing_safe(text: str) -> None:
    assert quoted(text) == quote(text, safe="")


def test_quoted_leaves_plain_ids_alone_and_encodes_the_rest() -> None:
    assert quoted("c-001_x.y~z") == "c-001_x.y~z"
    assert quoted("a:b") == "a%3Ab"
    assert quoted("") == ""
    # Letters and digits outside ASCII are not safe (the fast path checks both).
    for text in ("é1", "٣٤", "Ⅻ", "ß", "c0000123"):
        assert quoted(text) == quote(text, safe=""), text


def test_collector_paused_restores_the_previous_state() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the inner one leaves it paused
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collector_paused_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_keep_the_collector_paused_until_the_last_ends() -> None:
    # A page is read in one thread while another is planned: the pauses overlap.
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_cron_dates_are_the_matching_days_of_the_range() -> None:
    first, last = date(2026, 11, 2), date(2027, 3, 31)
    months = [(2026, 12), (2027, 1), (2027, 2), (2027, 3)]
    assert cron_dates("1 * *", first, last) == tuple(date(y, m, 1) for y, m in months)
    assert cron_dates("L * *", first, last) == (
        date(2026, 11, 30), date(2026, 12, 31), date(2027, 1, 31), date(2027, 2, 28),
        date(2027, 3, 31),
    )  # fmt: skip
    assert cron_dates("L * *", date(2027, 2, 1), date(2027, 2, 27)) == ()
