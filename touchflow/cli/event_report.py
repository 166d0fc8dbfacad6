"""What one recorded event changed in a customer's plan, in words for `touchflow event`.

Pure: the customer is planned before and after the event (the one planner the
daemon uses), and the difference is the event's effect. A touchpoint that was
already planned before and still is, unchanged, is no part of it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from touchflow.models import PlannedTouchpoint, Status
from touchflow.timecalc import zone

# How far back and ahead of now the effect is looked for: a year and a bit, so a
# yearly occurrence and an anchor far in the past both show.
SPAN = timedelta(days=400)


class Kind(enum.StrEnum):
    PLANNED = "planned"  # new, or sent after all (a held one now planned)
    MOVED = "moved"  # planned before and after, due at another time
    CANCELLED = "cancelled"  # planned before, now gone or held
    HELD = "held"  # new, but not sent: the reason says why


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    kind: Kind
    touchpoint: PlannedTouchpoint  # as planned now (for CANCELLED: as it was planned)
    was_due: datetime | None = None  # MOVED: the due time before
    reason: str | None = None  # CANCELLED and HELD: why


def changes(
    before: Sequence[PlannedTouchpoint], after: Sequence[PlannedTouchpoint]
) -> list[Change]:
    """The difference between two plans of one customer, in time order."""
    old = {tp.key: tp for tp in before}
    new = {tp.key: tp for tp in after}
    found: list[Change] = []
    for key, tp in new.items():
        was = old.get(key)
        planned_before = was is not None and was.status is Status.PLANNED
        if tp.status is Status.PLANNED:
            if was is None or not planned_before:
                found.append(Change(kind=Kind.PLANNED, touchpoint=tp))
            elif was.due_at != tp.due_at:
                found.append(Change(kind=Kind.MOVED, touchpoint=tp, was_due=was.due_at))
        elif planned_before:
            found.append(Change(kind=Kind.CANCELLED, touchpoint=tp, reason=_why(tp)))
        elif was is None:
            found.append(Change(kind=Kind.HELD, touchpoint=tp, reason=_why(tp)))
    for key, tp in old.items():
        if key not in new and tp.status is Status.PLANNED:
            found.append(Change(kind=Kind.CANCELLED, touchpoint=tp, reason="no longer planned"))
    found.sort(key=lambda c: (c.touchpoint.due_at, c.touchpoint.key))
    return found


def _why(tp: PlannedTouchpoint) -> str:
    return tp.reason.value if tp.reason is not None else "held"


def lines(found: Sequence[Change]) -> list[str]:
    """One line per change: what, the key, the due time in the customer's zone."""
    width = max((len(c.touchpoint.key) for c in found), default=0)
    out = []
    for change in found:
        tp = change.touchpoint
        due = _local(tp.due_at, tp.timezone)
        text = f"  {change.kind.value:<9}  {tp.key:<{width}}  "
        if change.kind is Kind.MOVED and change.was_due is not None:
            text += f"{due} (was {_local(change.was_due, tp.timezone, with_zone=False)})"
        elif change.kind is Kind.CANCELLED:
            text += f"was due {due} ({change.reason})"
        else:
            text += due + (f" ({change.reason})" if change.reason else "")
        out.append(text)
    return out


# A touchpoint due this long before the command ran still counts as on time.
ON_TIME = timedelta(minutes=1)


def warnings(found: Sequence[Change], *, now: datetime, catch_up: timedelta) -> list[str]:
    """A warning for each planned or moved touchpoint whose time has already come."""
    out = []
    for change in found:
        tp = change.touchpoint
        # Due about now is what an `immediately` rule means for an event of now: no alarm.
        if change.kind not in (Kind.PLANNED, Kind.MOVED) or tp.due_at > now - ON_TIME:
            continue
        due = _local(tp.due_at, tp.timezone)
        expires = tp.expires_at or tp.due_at + timedelta(days=1)
        if expires <= now or tp.due_at < now - catch_up:
            out.append(
                f"warning: {tp.key} was due {due}, already past: it is not sent "
                "(is a date in the event or --at wrong?)"
            )
        else:
            out.append(f"warning: {tp.key} was due {due}, already past: it is sent at once")
    return out


def _local(instant: datetime, tz_name: str, *, with_zone: bool = True) -> str:
    text = f"{instant.astimezone(zone(tz_name)):%Y-%m-%d %H:%M}"
    return f"{text} {tz_name}" if with_zone else text
