"""What one plan() call works out once: the rules, and the touchpoint times customers share.

Date, holiday and cron triggers depend on the customer's zone and country,
not on the customer; a yearly trigger depends only on the month and day of
the customer's date (and its year, for the count). So their due times are
settled once per zone and country (and month-day), and each customer picks
them up with one look-up instead of walking the calendar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from touchflow.config.policies import HolidayPolicy
from touchflow.config.project_config import ProjectConfig
from touchflow.models import Window
from touchflow.plan.occurrences import (
    AnchorSpan,
    EventOccurrences,
    Occurrence,
    quoted,
    shared_occurrences,
    yearly_dates,
)
from touchflow.plan.timing import Settled, Step, Timing, Zone, expiry_of, time_of_day
from touchflow.rules.schema import DateTrigger, EventTrigger, Feb29, Rule, YearlyTrigger


@dataclass(frozen=True, slots=True)
class RulePlan:
    """What planning needs of a rule, worked out once per plan() call."""

    index: int
    rule: Rule
    at: time | None  # the local time of day, or None: the anchor's own
    wall: time  # the time of day on a date anchor
    event: str | None  # an event trigger's event type
    events: EventOccurrences | None  # ... and how its events make occurrences
    yearly: YearlyTrigger | None
    steps: tuple[Step, ...]  # the offsets
    labels: tuple[str, ...]  # the offsets' key parts
    # Whether a touchpoint due after the window still matters: only as a rival under a cap.
    beyond: bool
    # When every offset is an exact duration and no policy ever moves a send: the
    # anchors that have a touchpoint in the wide window, [from, to), to pass over the
    # others at once.
    anchors: AnchorSpan | None

    @classmethod
    def of(
        cls, index: int, rule: Rule, config: ProjectConfig, dates: Mapping[str, tuple[str, ...]],
        wide: Window,
    ) -> RulePlan:  # fmt: skip
        at = time_of_day(rule, config)
        trig = rule.trigger
        capped = any(cap.category is rule.category for cap in config.caps)
        event = trig if isinstance(trig, EventTrigger) else None
        feb29 = trig.feb29 if isinstance(trig, YearlyTrigger | DateTrigger) else Feb29.FEB28
        steps = tuple(Step.of(offset, feb29) for offset in rule.offsets)
        fixed = rule.policies.send_window is None and rule.policies.holidays is HolidayPolicy.SEND
        exact = [step.exact for step in steps if not step.calendar]
        return cls(
            index=index,
            rule=rule,
            at=at,
            wall=at or config.send_time,
            event=event.event if event else None,
            events=EventOccurrences(rule, event, dates) if event else None,
            yearly=trig if isinstance(trig, YearlyTrigger) else None,
            steps=steps,
            labels=tuple(offset.label for offset in rule.offsets),
            beyond=rule.policies.caps and capped,
            anchors=AnchorSpan(wide.start - max(exact), wide.end - min(exact))
            if fixed and exact and len(exact) == len(steps)
            else None,
        )


@dataclass(frozen=True, slots=True)
class Slot:
    """One offset of one occurrence date, settled: the same for a zone and country."""

    rule: RulePlan
    occ: Occurrence | None  # None for yearly triggers: the count differs per customer
    tail: str  # occurrence key and offset label, as they end the touchpoint key
    settled: Settled
    expires: datetime


YearSlots = tuple[tuple[int, date, tuple[Slot, ...]], ...]  # year, date, its slots


class Place:
    """What the customers of one zone and country share in a plan() call."""

    __slots__ = ("_shared", "_yearly", "country", "dated", "zone")

    def __init__(self, shared: Shared, zone: Zone, country: str | None) -> None:
        self._shared = shared
        self.zone = zone
        self.country = country
        self.dated = shared.dated(zone, country)  # every date, holiday and cron slot
        self._yearly: dict[tuple[int, int, int], YearSlots] = {}

    def yearly(self, rp: RulePlan, month: int, day: int) -> YearSlots:
        """The years a yearly rule's month-day falls in the plan, with their slots."""
        key = (rp.index, month, day)
        found = self._yearly.get(key)
        if found is None:
            found = self._yearly[key] = self._shared.yearly(rp, self.zone, self.country, month, day)
        return found


class Shared:
    """Slots of date-based rules for one plan() call, made on first use and kept."""

    def __init__(self, rules: Sequence[RulePlan], timing: Timing, window: Window) -> None:
        self._rules = tuple(rp for rp in rules if rp.event is None and rp.yearly is None)
        self._timing = timing
        self._window = window
        self._places: dict[tuple[str, str | None], Place] = {}

    def place(self, zone_name: str, country: str | None) -> Place:
        found = self._places.get((zone_name, country))
        if found is None:
            zone = self._timing.zone(zone_name)
            found = self._places[(zone_name, country)] = Place(self, zone, country)
        return found

    def dated(self, zone: Zone, country: str | None) -> tuple[Slot, ...]:
        """The slots of every date, holiday and cron rule, in rule order."""
        slots: list[Slot] = []
        for rp in self._rules:
            trig = rp.rule.trigger
            assert not isinstance(trig, EventTrigger | YearlyTrigger)
            for occ in shared_occurrences(trig, zone.first, zone.last, country):
                assert isinstance(occ.anchor, date)
                slots.extend(self._slots(rp, occ, occ.key, occ.anchor, zone, country))
        return tuple(slots)

    def yearly(
        self, rp: RulePlan, zone: Zone, country: str | None, month: int, day: int
    ) -> YearSlots:
        """The years a yearly rule's month-day falls in the plan, with their slots."""
        assert rp.yearly is not None
        years = yearly_dates(month, day, rp.yearly.feb29, zone.first, zone.last)
        return tuple(
            (year, on, slots)
            for year, on in years
            if (slots := self._slots(rp, None, str(year), on, zone, country))
        )

    def _slots(
        self, rp: RulePlan, occ: Occurrence | None, occ_key: str, day: date, zone: Zone,
        country: str | None,
    ) -> tuple[Slot, ...]:  # fmt: skip
        slots = []
        for k, step in enumerate(rp.steps):
            where = (rp.index, k)
            settled = self._timing.on_day(where, rp.rule, step, day, rp.wall, zone, country)
            # After the window only a rival under a cap matters; nothing else is kept.
            if settled is not None and (rp.beyond or settled.due < self._window.end):
                expires = expiry_of(rp.rule, day, step.offset, settled.due, zone.tz)
                tail = f"{quoted(occ_key)}:{rp.labels[k]}"
                slots.append(Slot(rule=rp, occ=occ, tail=tail, settled=settled, expires=expires))
        return tuple(slots)
