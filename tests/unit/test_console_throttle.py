"""The console login's throttle: wrong tokens per address, within a window."""

from __future__ import annotations

import pytest

from touchflow.console import throttle
from touchflow.console.throttle import FAILS, WINDOW, Throttle


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(throttle.time, "monotonic", lambda: now[0])
    return now


def test_an_address_waits_after_its_fifth_wrong_token_until_the_first_is_a_window_old(
    clock: list[float],
) -> None:
    gate = Throttle()
    made_wait = [gate.failed("10.0.0.1") for _ in range(FAILS)]
    assert made_wait == [False] * (FAILS - 1) + [True]
    assert gate.wait("10.0.0.1") == WINDOW
    assert gate.wait("10.0.0.2") == 0  # another address is not held up
    clock[0] += WINDOW - 10
    assert gate.wait("10.0.0.1") == 10
    clock[0] += 10
    assert gate.wait("10.0.0.1") == 0


def test_failures_spread_wider_than_the_window_never_make_an_address_wait(
    clock: list[float],
) -> None:
    gate = Throttle()
    for _ in range(3 * FAILS):
        gate.failed("10.0.0.1")
        clock[0] += WINDOW / (FAILS - 1)
    assert gate.wait("10.0.0.1") == 0


def test_a_right_token_forgets_the_addresss_failures(clock: list[float]) -> None:
    gate = Throttle()
    for _ in range(FAILS - 1):
        gate.failed("10.0.0.1")
    gate.passed("10.0.0.1")
    assert gate.failed("10.0.0.1") is False and gate.wait("10.0.0.1") == 0


def test_only_so_many_addresses_are_remembered(
    clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "ADDRESSES", 3)
    gate = Throttle()
    for _ in range(FAILS):
        gate.failed("10.0.0.1")
    for other in ("10.0.0.2", "10.0.0.3", "10.0.0.4"):
        gate.failed(other)
    assert gate.wait("10.0.0.1") == 0  # the longest quiet was dropped
