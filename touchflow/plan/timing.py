"""When a touchpoint is due: the offset from its anchor, then holidays and the send window.

Pure, like the planner it serves (docs/rules.md §5 and §7.4). Every result is a
function of the rule, the anchor, the customer's zone and country, so one
``Timing`` per plan() call remembers what customers share: the 1st of the
month at 10:00 in Berlin is the same instant for every customer in Berlin.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from touchflow import calendars
from touchflow.config.policies import HolidayPolicy, Policies, SendWindow
from touchflow.config.project_config import ProjectConfig
from touchflow.durations import Offset, Unit
from touchflow.models import Adjustment, Window
from touchflow.rules.schema import CronTrigger, EventTrigger, Feb29, Rule
from touchflow.timecalc import add_months, resolve_local, zone

_MAX_POLICY_STEPS = 60  # window + holiday moves; a year of holidays never needs more
_ONE_DAY = timedelta(days=1)
_GAP = (Adjustment.DST_GAP,)


@dataclass(frozen=True, slots=True)
class Zone:
    """A customer time zone, with the local dates a plan looks for occurrences in."""

    name: str
    tz: ZoneInfo
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class Step:
    """An offset, with what planning asks of it worked out once per plan() call."""

    offset: Offset
    calendar: bool  # whole days (and weeks, business days, months): the wall time is kept
    exact: timedelta  # minutes and hours as a duration; zero for the others
    days: int  # days and weeks as calendar days; zero for the others
    months: int  # months and years as calendar months; zero for the others
    feb29: Feb29  # where a Feb 29 moved by whole years lands in a common year

    @classmethod
    def of(cls, offset: Offset, feb29: Feb29 = Feb29.FEB28) -> Step:
        calendar = offset.unit.is_calendar
        return cls(
            offset=offset,
            calendar=calendar,
            exact=timedelta(0) if calendar else offset.exact(),
            days=offset.calendar_days() if offset.unit in (Unit.DAYS, Unit.WEEKS) else 0,
            months=offset.calendar_months() if offset.unit in (Unit.MONTHS, Unit.YEARS) else 0,
            feb29=feb29,
        )


@dataclass(frozen=True, slots=True)
class Settled:
    """A due time after the policies moved it (or held it for a `skip` holiday)."""

    due: datetime  # UTC
    adjustments: tuple[Adjustment, ...]
    skipped: str | None  # the holiday a `holidays: skip` policy holds it on
    moved: str | None = None  # the adjustments in words, the detail of a planned touchpoint

    @classmethod
    def of(cls, due: datetime, adjustments: tuple[Adjustment, ...], skipped: str | None) -> Settled:
        moved = ", ".join(a.value for a in adjustments) if adjustments else None
        return cls(due, adjustments, skipped, moved)


class Timing:
    """Due times for one plan() call over the ``wide`` window, remembered where shared."""

    def __init__(self, config: ProjectConfig, wide: Window, pad_days: int) -> None:
        self.config = config
        self.wide = wide
        self._pad = timedelta(days=pad_days)
        self._zones: dict[str, Zone] = {}
        self._on_day: dict[tuple[object, ...], Settled | None] = {}

    def zone(self, name: str) -> Zone:
        found = self._zones.get(name)
        if found is None:
            tz = zone(name)
            first = self.wide.start.astimezone(tz).date() - self._pad
            last = self.wide.end.astimezone(tz).date() + self._pad
            found = self._zones[name] = Zone(name=name, tz=tz, first=first, last=last)
        return found

    def on_day(
        self, where: tuple[int, int], rule: Rule, step: Step, day: date, wall: time,
        zone: Zone, country: str | None,
    ) -> Settled | None:  # fmt: skip
        """Due for a local ``day`` at ``wall`` time; None if it is outside the wide window.

        ``where`` (rule index, offset index) names the rule and offset in the cache key.
        """
        key = (where, day, wall, zone.name, country)
        try:
            return self._on_day[key]
        except KeyError:
            pass
        placed = due_on(day, wall, step, zone.tz, country, self.config)
        found = None if placed is None else self._settle(*placed, rule.policies, zone.tz, country)
        self._on_day[key] = found
        return found

    def of_anchor(
        self, where: tuple[int, int], rule: Rule, step: Step, anchor: datetime | date,
        at: time | None, zone: Zone, country: str | None,
    ) -> Settled | None:  # fmt: skip
        """Due for an event's anchor; None outside the wide window.

        A date-time anchor keeps its wall time with days (unless ``at`` sets one)
        and moves by the exact duration with minutes and hours; a date anchor is
        a local day, at ``at`` or the project's send time.
        """
        if not isinstance(anchor, datetime):
            return self.on_day(
                where, rule, step, anchor, at or self.config.send_time, zone, country
            )
        if not step.calendar:
            return self._settle((anchor + step.exact).astimezone(UTC), False, rule.policies,
                                zone.tz, country)  # fmt: skip
        local = anchor.astimezone(zone.tz)
        if at is not None:  # the anchor's own wall time would make too many keys to keep
            return self.on_day(where, rule, step, local.date(), at, zone, country)
        wall = local.time().replace(tzinfo=None)
        placed = due_on(local.date(), wall, step, zone.tz, country, self.config)
        return None if placed is None else self._settle(*placed, rule.policies, zone.tz, country)

    def _settle(
        self, due: datetime, gap: bool, policies: Policies, tz: ZoneInfo, country: str | None
    ) -> Settled | None:
        if due >= self.wide.end:
            return None  # policies only ever move a send later
        if policies.send_window is None and (
            policies.holidays is HolidayPolicy.SEND or not country
        ):
            moved: list[Adjustment] = []
            skipped = None
            due = due.astimezone(UTC)
        else:
            due, moved, skipped = apply_time_policies(due, policies, tz, country)
        if not self.wide.contains(due):
            return None
        return Settled.of(due, (*_GAP, *moved) if gap else tuple(moved), skipped)


def pad_days(rules: Sequence[Rule]) -> int:
    """How far outside the window an occurrence may lie and still be due inside it."""
    longest = 0
    for rule in rules:
        for offset in rule.offsets:
            days = abs(offset.amount)
            if offset.unit is Unit.WEEKS:
                days *= 7
            elif offset.unit is Unit.BUSINESS_DAYS:
                days = days * 2 + 14  # weekends and a run of holidays
            elif offset.unit in (Unit.MONTHS, Unit.YEARS):
                days = abs(offset.calendar_months()) * 31 + 1  # + 1: Feb 29 moved to Mar 1
            elif not offset.unit.is_calendar:
                days = days // (24 * 60 if offset.unit is Unit.MINUTES else 24) + 1
            longest = max(longest, days)
    return longest + 8  # + a week of window/holiday moves


def time_of_day(rule: Rule, config: ProjectConfig) -> time | None:
    """The local time a rule sends at: its `at`, a cron's own time, or None (keep anchor's)."""
    if isinstance(rule.trigger, CronTrigger):
        return rule.trigger.at
    if rule.at is not None:
        return rule.at
    return None if isinstance(rule.trigger, EventTrigger) else config.send_time


def due_on(
    day: date, wall: time, step: Step, tz: ZoneInfo, country: str | None, config: ProjectConfig
) -> tuple[datetime, bool] | None:
    """Due before policies; True if it fell in a DST gap. None: a Feb 29 policy skips it.

    Days, months and years keep the wall time on the shifted day (the local date
    moves first, then DST is settled as for any local time); minutes and hours
    are exact from it.
    """
    if not step.calendar:
        base, gap = resolve_local(day, wall, tz)
        return base + step.exact, gap
    if step.months:
        shifted = add_months(day, step.months, step.feb29)
        if shifted is None:
            return None
        day = shifted
    elif step.offset.unit is Unit.BUSINESS_DAYS:
        amount = step.offset.amount
        day = calendars.add_business_days(day, amount, country, config.business_days)
    else:
        day += timedelta(days=step.days)
    return resolve_local(day, wall, tz)


def apply_time_policies(
    due: datetime, policies: Policies, tz: ZoneInfo, country: str | None
) -> tuple[datetime, list[Adjustment], str | None]:
    """Move a send into the send window and off holidays; third value: a skipping holiday."""
    window = policies.send_window
    local = due.astimezone(tz)
    moved: list[Adjustment] = []
    for _ in range(_MAX_POLICY_STEPS):
        name = calendars.holiday_name(country, local.date())
        if name is not None and policies.holidays is HolidayPolicy.SKIP:
            return local.astimezone(UTC), moved, name
        if name is not None and policies.holidays is HolidayPolicy.NEXT_DAY:
            start = window.start if window else local.time().replace(tzinfo=None)
            local = resolve_local(local.date() + _ONE_DAY, start, tz)[0].astimezone(tz)
            _note(moved, Adjustment.MOVED_BY_HOLIDAY)
            continue
        if window is not None and not _inside(local, window):
            local = _next_opening(local, window, tz)
            _note(moved, Adjustment.MOVED_BY_WINDOW)
            continue
        break
    return local.astimezone(UTC), moved, None


def _note(moved: list[Adjustment], what: Adjustment) -> None:
    if what not in moved:
        moved.append(what)


def _inside(local: datetime, window: SendWindow) -> bool:
    wall = local.time().replace(tzinfo=None)
    return local.weekday() in window.days and window.start <= wall < window.end


def _next_opening(local: datetime, window: SendWindow, tz: ZoneInfo) -> datetime:
    day = local.date()
    if not (day.weekday() in window.days and local.time().replace(tzinfo=None) < window.start):
        day += _ONE_DAY
        while day.weekday() not in window.days:
            day += _ONE_DAY
    return resolve_local(day, window.start, tz)[0].astimezone(tz)


def expiry_of(
    rule: Rule, anchor: datetime | date | None, offset: Offset, due: datetime, tz: ZoneInfo
) -> datetime:
    """When a touchpoint that has not gone out yet stops being worth sending.

    ``expires_after`` wins. Otherwise a reminder *before* an event's anchor (the
    appointment start, the coupon's end) expires at the anchor; anything else
    an event triggers gets a day; a date-based greeting ends with the customer's
    local day. A rule whose window ``closes`` (marketing texts) also expires when its
    window ends on the due's local day.
    """
    expires = _expiry(rule, anchor, offset, due, tz)
    window = rule.policies.send_window
    if rule.policies.closes and window is not None:  # marketing texts: never at night
        local = due.astimezone(tz)
        closing = resolve_local(local.date(), window.end, tz)[0].astimezone(UTC)
        if due < closing < expires:
            return closing
    return expires


def _expiry(
    rule: Rule, anchor: datetime | date | None, offset: Offset, due: datetime, tz: ZoneInfo
) -> datetime:
    if rule.expires_after is not None:
        return due + rule.expires_after
    if isinstance(rule.trigger, EventTrigger):
        if offset.amount < 0 and isinstance(anchor, datetime):
            return anchor.astimezone(UTC)
        if offset.amount < 0 and isinstance(anchor, date):
            return end_of_local_day(anchor, tz)
        return due + _ONE_DAY
    return end_of_local_day(due.astimezone(tz).date(), tz)


@functools.lru_cache(maxsize=8192)
def end_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    # Cached: every greeting of a day in one zone ends at the same instant.
    return resolve_local(day + _ONE_DAY, time(0), tz)[0].astimezone(UTC)
