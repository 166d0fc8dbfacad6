"""What one event changed in a customer's plan, as `touchflow event` reports it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from touchflow.cli.event_report import Kind, changes, lines, warnings
from touchflow.models import Category, HoldReason, PlannedTouchpoint, Status

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def tp(
    key: str,
    due: datetime,
    *,
    reason: HoldReason | None = None,
    expires: datetime | None = None,
    tz: str = "Europe/Berlin",
) -> PlannedTouchpoint:
    return PlannedTouchpoint(
        key=key, rule_id=key.split(":")[0], customer_id="c-1", occurrence="o",
        channel="email", template="t", category=Category.TRANSACTIONAL, priority=0,
        due_at=due, timezone=tz, status=Status.HELD if reason else Status.PLANNED,
        reason=reason, expires_at=expires,
    )  # fmt: skip


def test_new_moved_cancelled_and_held_touchpoints_are_told_apart() -> None:
    day = timedelta(days=1)
    before = [
        tp("same:c-1", NOW + day),
        tp("moves:c-1", NOW + day),
        tp("goes:c-1", NOW + 2 * day),
        tp("is-held:c-1", NOW + 3 * day),
        tp("revived:c-1", NOW + 4 * day, reason=HoldReason.CANCELLED),
    ]
    after = [
        tp("same:c-1", NOW + day),
        tp("moves:c-1", NOW + 5 * day),
        tp("is-held:c-1", NOW + 3 * day, reason=HoldReason.CANCELLED),
        tp("revived:c-1", NOW + 4 * day),
        tp("new:c-1", NOW + 6 * day),
        tp("never:c-1", NOW + 7 * day, reason=HoldReason.NO_CONSENT),
    ]
    found = {c.touchpoint.key: (c.kind, c.reason) for c in changes(before, after)}
    assert found == {
        "goes:c-1": (Kind.CANCELLED, "no longer planned"),
        "is-held:c-1": (Kind.CANCELLED, "cancelled"),
        "revived:c-1": (Kind.PLANNED, None),
        "moves:c-1": (Kind.MOVED, None),
        "new:c-1": (Kind.PLANNED, None),
        "never:c-1": (Kind.HELD, "no_consent"),
    }
    assert changes(before, after)[0].touchpoint.key == "goes:c-1"  # time order


def test_lines_give_key_and_due_time_in_the_customers_zone() -> None:
    before = [tp("r:c-1:24h", datetime(2026, 12, 9, 9, 0, tzinfo=UTC), tz="America/New_York")]
    after = [tp("r:c-1:24h", datetime(2026, 12, 10, 9, 0, tzinfo=UTC), tz="America/New_York")]
    assert lines(changes(before, after)) == [
        "  moved      r:c-1:24h  2026-12-10 04:00 America/New_York (was 2026-12-09 04:00)"
    ]
    gone = lines(changes(before, []))
    assert gone == ["  cancelled  r:c-1:24h  was due 2026-12-09 04:00 America/New_York "
                    "(no longer planned)"]  # fmt: skip


def test_a_touchpoint_already_due_is_warned_about_sent_at_once_or_missed() -> None:
    after = [
        tp("ahead:c-1", NOW + timedelta(hours=1)),
        tp("late:c-1", NOW - timedelta(hours=1), expires=NOW + timedelta(hours=5)),
        tp("expired:c-1", NOW - timedelta(hours=3), expires=NOW - timedelta(hours=1)),
        tp("long-ago:c-1", NOW - 2 * WEEK, expires=NOW + WEEK),
        tp("held:c-1", NOW - timedelta(hours=1), reason=HoldReason.CANCELLED),
    ]
    said = warnings(changes([], after), now=NOW, catch_up=WEEK)
    assert len(said) == 3
    assert "long-ago:c-1 was due 2026-11-22 13:00 Europe/Berlin" in said[0]
    assert "not sent" in said[0] and "not sent" in said[1] and "expired:c-1" in said[1]
    assert "late:c-1" in said[2] and "sent at once" in said[2]
    assert warnings(changes(after, after), now=NOW, catch_up=WEEK) == []  # nothing new
