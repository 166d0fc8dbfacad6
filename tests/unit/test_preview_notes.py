"""The preview table's notes: what moved a touchpoint, and what exactly held it."""

from __future__ import annotations

from datetime import UTC, datetime

from touchflow.models import Adjustment, Category, HoldReason, PlannedTouchpoint, Status
from touchflow.plan.preview import notes


def touchpoint(**overrides: object) -> PlannedTouchpoint:
    values: dict[str, object] = {
        "key": "k", "rule_id": "r", "customer_id": "c", "occurrence": "o", "channel": "email",
        "template": "t", "category": Category.MARKETING, "priority": 0,
        "due_at": datetime(2027, 3, 28, 1, tzinfo=UTC), "timezone": "Europe/Berlin",
        "status": Status.PLANNED,
    }  # fmt: skip
    return PlannedTouchpoint(**{**values, **overrides})  # type: ignore[arg-type]


def test_notes_put_adjustments_and_the_hold_detail_in_words() -> None:
    moved = touchpoint(
        adjustments=(Adjustment.DST_GAP, Adjustment.MOVED_BY_WINDOW),
        detail="dst_gap, moved_by_window",
    )
    assert notes(moved) == (
        "local time skipped by DST: sent as the clocks jump; moved into the send window"
    )
    held = touchpoint(
        status=Status.HELD,
        reason=HoldReason.CONDITION_FALSE,
        detail="rules/calendar.yaml:31: customer.lifecycle in ['long_time', 'integral']",
    )
    assert notes(held) == "rules/calendar.yaml:31: customer.lifecycle in ['long_time', 'integral']"
    assert notes(touchpoint()) == ""
