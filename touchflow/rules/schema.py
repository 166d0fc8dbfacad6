"""The rule language as values: what a validated rule is."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

from touchflow.config.policies import Policies
from touchflow.durations import Offset
from touchflow.models import Category
from touchflow.timecalc import Feb29 as Feb29  # the rule language's word; applied in timecalc


class CancelMatch(enum.StrEnum):
    """Which occurrences a ``cancel_on`` event cancels."""

    OCCURRENCE = "occurrence"  # the one with the event's occurrence key (the same appointment)
    CUSTOMER = "customer"  # every one the customer has when it arrives (any complaint)


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOn:
    """An event type that cancels occurrences of an event rule, and which ones."""

    event: str
    match: CancelMatch = CancelMatch.OCCURRENCE


@dataclass(frozen=True, slots=True, kw_only=True)
class EventTrigger:
    """Fires for events of a type; ``anchor`` and ``occurrence`` are paths into the event."""

    event: str
    anchor: tuple[str, ...] = ("event", "at")
    occurrence: tuple[str, ...] = ("event", "id")
    updates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class YearlyTrigger:
    """Every year on a date field of the customer (birthday, customer_since…)."""

    field: str  # "birthday", "customer_since" or a declared date attribute
    feb29: Feb29 = Feb29.FEB28
    skip_first: bool = True  # no anniversary card on the day itself (year 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class DateTrigger:
    """A fixed calendar date each year, e.g. 01-01."""

    month: int
    day: int
    feb29: Feb29 = Feb29.FEB28


@dataclass(frozen=True, slots=True, kw_only=True)
class HolidayTrigger:
    """A named public holiday from the customer's country calendar."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CronTrigger:
    """Recurring dates from a 5-field cron expression; minute and hour give the local time."""

    expression: str
    date_fields: str  # "dom month dow", matched against local dates
    at: time


Trigger = EventTrigger | YearlyTrigger | DateTrigger | HolidayTrigger | CronTrigger


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    source: str
    line: int
    compiled: Any  # jinja2 TemplateExpression; evaluated in the sandbox


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    id: str
    description: str
    category: Category
    priority: int
    trigger: Trigger
    offsets: tuple[Offset, ...]
    at: time | None
    conditions: tuple[Condition, ...]
    cancel_on: tuple[CancelOn, ...]
    channel: str
    template: str
    policies: Policies
    path: str  # file as shown to the user
    line: int
    # How long after its due time a late touchpoint may still go out; None: by kind
    # (see planner.expiry_of).
    expires_after: timedelta | None = None
    # The Auto-Submitted header (RFC 3834) of its messages: "auto-replied" for an answer
    # to a message the customer sent (an inquiry), else "auto-generated".
    auto_submitted: str = "auto-generated"
    # The channels in the order tried (``action.channels``): the touchpoint goes by the
    # first the customer can receive. ``channel`` is the first; () is ``(channel,)``.
    channels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.channels:
            object.__setattr__(self, "channels", (self.channel,))
        elif self.channels[0] != self.channel:
            raise ValueError(f"rule {self.id}: channel {self.channel} is not channels[0]")

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def trigger_kind(self) -> str:
        return {
            EventTrigger: "event",
            YearlyTrigger: "yearly",
            DateTrigger: "date",
            HolidayTrigger: "holiday",
            CronTrigger: "cron",
        }[type(self.trigger)]
