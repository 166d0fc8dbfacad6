"""`touchflow why`: the trigger and time checks of one touchpoint, from its candidate.

The planner's own candidate (``PlannedTouchpoint.context``) carries the occurrence,
the settled due time and its adjustments; what the policies started from is worked
out again with the planner's own ``timing.due_on``, so both always agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from touchflow.config.project_config import ProjectConfig
from touchflow.durations import Offset, Unit
from touchflow.models import HoldReason
from touchflow.plan.candidates import Candidate
from touchflow.plan.timing import Step, due_on, time_of_day
from touchflow.plan.trace_model import Check, Stage
from touchflow.plan.trace_words import moved_words
from touchflow.rules.schema import DateTrigger, Feb29, YearlyTrigger
from touchflow.timecalc import resolve_local


def local_text(instant: datetime, tz: ZoneInfo) -> str:
    """``2026-12-15 09:00 CET`` (the wall time where the customer is)."""
    return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def utc_iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fact(c: Candidate, stage: Stage, name: str, text: str, **values: Any) -> Check:
    """A check that is a fact on the way (passed None), at the rule's file:line."""
    return Check(stage=stage, name=name, passed=None, text=text, where=c.rule.where, values=values)


def trigger_check(c: Candidate) -> Check:
    """Which occurrence this touchpoint is of, and what made it."""
    occ, trig = c.occ, c.rule.trigger
    if occ.event is not None:
        ev, at = occ.event, utc_iso(occ.event.at)
        text = f"{ev.type} event {ev.id} ({at}) defines occurrence {occ.key}"
        return _fact(c, Stage.TRIGGER, "event", text, event=ev.id, type=ev.type, at=at,
                     occurrence=occ.key)  # fmt: skip
    day = str(occ.anchor)
    if isinstance(trig, YearlyTrigger):
        years = occ.values.get("years")
        text = f"customer.{trig.field}: year {occ.key}, the {_ordinal(years)}, on {day}"
        return _fact(c, Stage.TRIGGER, "date", text, field=trig.field, date=day, years=years)
    if "holiday" in occ.values:
        holiday = occ.values["holiday"]
        text = f"holiday {holiday} on {day} in {c.customer.country}"
        return _fact(c, Stage.TRIGGER, "holiday", text, holiday=holiday, date=day)
    return _fact(c, Stage.TRIGGER, "date", f"the date {day} (occurrence {occ.key})", date=day)


def _ordinal(n: object) -> str:
    if not isinstance(n, int):
        return "?"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def time_checks(c: Candidate, config: ProjectConfig) -> list[Check]:
    """The anchor, the offset and `at`, each policy move, DST, the due time, the expiry."""
    anchor, tz = c.occ.anchor, c.customer.zone.tz
    if anchor is None:  # invalid data: held at the event's own time
        text = f"no anchor: shown at the event's time, {local_text(c.due, tz)}"
        return [_fact(c, Stage.TIME, "due", text, due_at=utc_iso(c.due))]
    zone_name = c.customer.zone.name
    shown = local_text(anchor, tz) if isinstance(anchor, datetime) else anchor.isoformat()
    checks = [
        _fact(c, Stage.TIME, "anchor", f"anchor {shown} ({zone_name})", anchor=_iso(anchor),
              timezone=zone_name),
        _offset_check(c, config),
    ]  # fmt: skip
    checks += [_fact(c, Stage.TIME, a.value, moved_words(a)) for a in c.adjustments]
    if _in_fold(c.due, tz):
        text = "the local time happens twice (clocks go back): sent once, at the first"
        checks.append(_fact(c, Stage.TIME, "dst_fold", text))
    checks.append(_fact(c, Stage.TIME, "due", f"due {local_text(c.due, tz)} ({utc_iso(c.due)})",
                        due_at=utc_iso(c.due)))  # fmt: skip
    checks.append(_expiry(c, tz))
    return checks


def _offset_check(c: Candidate, config: ProjectConfig) -> Check:
    """The offset and `at`, and where they land before any policy moves the send."""
    offset = _offset_of(c)
    at = time_of_day(c.rule, config)
    unmoved = _unmoved(c, offset, at, config)
    text = offset.text if offset.amount or not offset.unit.is_calendar else "no offset"
    if offset.unit is Unit.BUSINESS_DAYS:
        text += f" (business days, with {c.customer.country or 'no'} holidays)"
    if at is not None:
        text += f" at {at:%H:%M}"
    if unmoved is not None:
        text += f" → {local_text(unmoved, c.customer.zone.tz)}"
    return _fact(c, Stage.TIME, "offset", text, offset=offset.text,
                 at=None if at is None else f"{at:%H:%M}",
                 before_policies=None if unmoved is None else utc_iso(unmoved))  # fmt: skip


def _expiry(c: Candidate, tz: ZoneInfo) -> Check:
    in_time = c.due < c.expires
    text = f"expires {local_text(c.expires, tz)}"
    if not in_time:
        text = f"due after it expires ({local_text(c.expires, tz)}): too late to send"
    return Check(
        stage=Stage.TIME,
        name="expires",
        passed=in_time,
        where=c.rule.where,
        text=text,
        values={"expires_at": utc_iso(c.expires)},
        reason=None if in_time else HoldReason.TOO_LATE,
    )


def _iso(value: datetime | date) -> str:
    return utc_iso(value) if isinstance(value, datetime) else value.isoformat()


def _offset_of(c: Candidate) -> Offset:
    """The offset of this touchpoint: its label ends the key."""
    label = c.key.rsplit(":", 1)[-1]
    for offset in c.rule.offsets:
        if offset.label == label:
            return offset
    return c.rule.offsets[0]


def _unmoved(
    c: Candidate, offset: Offset, at: time | None, config: ProjectConfig
) -> datetime | None:
    """The due time before the send window and holidays moved it (as ``Timing`` finds it)."""
    anchor, tz, country = c.occ.anchor, c.customer.zone.tz, c.customer.country
    trig = c.rule.trigger
    feb29 = trig.feb29 if isinstance(trig, YearlyTrigger | DateTrigger) else Feb29.FEB28
    step = Step.of(offset, feb29)
    if isinstance(anchor, datetime):
        if not step.calendar:
            return anchor.astimezone(UTC) + step.exact
        local = anchor.astimezone(tz)
        wall = at or local.time().replace(tzinfo=None)
        placed = due_on(local.date(), wall, step, tz, country, config)
    elif anchor is not None:
        placed = due_on(anchor, at or config.send_time, step, tz, country, config)
    else:
        return None
    return None if placed is None else placed[0].astimezone(UTC)


def _in_fold(instant: datetime, tz: ZoneInfo) -> bool:
    """Whether the local wall time of ``instant`` happens twice (the clocks went back)."""
    wall = instant.astimezone(tz).replace(tzinfo=None)
    first, _gap = resolve_local(wall.date(), wall.time(), tz)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return first != second
