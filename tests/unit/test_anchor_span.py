"""AnchorSpan decides by local date where it can: always as the instants would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from touchflow.plan.occurrences import AnchorSpan


def test_anchor_span_agrees_with_comparing_instants() -> None:
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    end = datetime(2027, 1, 5, 6, 30, tzinfo=UTC)
    span = AnchorSpan(start, end)
    offsets = [timedelta(minutes=m) for m in (-1439, -720, -61, 0, 59, 330, 840, 1439)]
    checked = 0
    for bound in (start, end):
        # Every 37 minutes for five days either side of each bound, in every offset.
        for step in range(-5 * 24 * 60 // 37, 5 * 24 * 60 // 37):
            instant = bound + timedelta(minutes=37 * step)
            for offset in offsets:
                anchor = instant.astimezone(timezone(offset))
                assert (anchor in span) == (start <= anchor < end), anchor
                checked += 1
    for instant in (start, end, start - timedelta(microseconds=1), end - timedelta(microseconds=1)):
        for offset in offsets:
            anchor = instant.astimezone(timezone(offset))
            assert (anchor in span) == (start <= anchor < end), anchor
    assert checked > 1000


def test_anchor_span_far_from_its_bounds() -> None:
    span = AnchorSpan(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 12, 30, tzinfo=UTC))
    plus_one = timezone(timedelta(hours=1))
    assert datetime(2026, 12, 1, 12, tzinfo=plus_one) in span
    assert datetime(2025, 12, 1, 12, tzinfo=plus_one) not in span
    assert datetime(2027, 12, 1, 12, tzinfo=plus_one) not in span
