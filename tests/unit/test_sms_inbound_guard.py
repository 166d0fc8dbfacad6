"""What the replies route remembers: handled MessageSids (bounded) and refusals logged."""

from __future__ import annotations

from touchflow.http.sms_inbound_guard import EVERY, Handled, RefusalLog


def test_handled_sids_are_remembered_the_oldest_forgotten_past_the_bound() -> None:
    handled = Handled(size=3)
    for sid in ("SM1", "SM2", "SM3", "SM4"):
        handled.add(sid)
    assert "SM1" not in handled
    assert all(sid in handled for sid in ("SM2", "SM3", "SM4"))


def test_a_refusal_is_logged_once_a_minute_per_address_counting_the_rest() -> None:
    clock = [1000.0]
    log = RefusalLog(now=lambda: clock[0])
    assert log.refused("203.0.113.7") == 0
    assert [log.refused("203.0.113.7") for _ in range(3)] == [None, None, None]
    assert log.refused("198.51.100.1") == 0  # another address: its own minute
    clock[0] += EVERY
    assert log.refused("203.0.113.7") == 3
    assert log.refused("203.0.113.7") is None
