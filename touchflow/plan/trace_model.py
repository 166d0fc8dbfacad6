"""The story `touchflow why` tells of one customer, as values.

A ``Check`` is one decision of the planner, in the order the planner takes them:
the trigger (which event, date or holiday made the occurrence), the time (anchor,
offset, policies, expiry), the gates (conditions, address, suppression, consent,
holiday skip, the cap) and, for what is already due, the outbox row. A touchpoint
held or never planned names the first check that stopped it (``stopped_by``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from touchflow.models import Customer, HoldReason, OutboxRow, Window


class Stage(enum.StrEnum):
    """Where in the planner's order a check belongs. Part of the JSON interface."""

    TRIGGER = "trigger"
    TIME = "time"
    GATE = "gate"
    CAP = "cap"
    OUTBOX = "outbox"


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One decision: what was looked at, with the values read, and how it went."""

    stage: Stage
    name: str  # what was checked: "event", "anchor", "condition", "consent", "row"...
    passed: bool | None  # None: a fact on the way (an anchor, a time), not a test
    text: str  # in words
    where: str | None = None  # the rule's file:line (a condition's own line)
    values: Mapping[str, Any] = field(default_factory=dict)  # as JSON values
    reason: HoldReason | None = None  # the hold reason a failed check gives


@dataclass(frozen=True, slots=True, kw_only=True)
class TouchpointStory:
    """One touchpoint of the customer: what the planner decided, step by step."""

    key: str
    rule_id: str
    occurrence: str
    period: str  # "past" (due before now) or "future"
    status: str  # "planned", "held", or "outbox only" (a row the plan does not make now)
    reason: HoldReason | None
    detail: str | None
    due_at: datetime
    timezone: str
    expires_at: datetime | None
    stopped_by: str | None  # the first thing that stopped it, in words, with file:line
    checks: tuple[Check, ...]
    outbox: OutboxRow | None  # its row, if the daemon has planned it
    channel: str = "email"  # the one it goes by (a fallback's first it can receive)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleStory:
    """A rule and what it made of the customer (or why it made nothing)."""

    rule_id: str
    category: str
    trigger: str
    where: str
    channel: str = "email"  # the rule's action.channel (its first, with a fallback)
    channels: tuple[str, ...] = ()  # the fallback's channels in order; () is (channel,)
    found: tuple[Check, ...]  # what the trigger found: events, dates, holidays
    touchpoints: tuple[TouchpointStory, ...]
    none: str | None  # no touchpoint in either period: why, in words


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerStory:
    """Everything `touchflow why CUSTOMER` shows."""

    customer: Customer
    timezone: str  # the zone the customer's local times are in
    country: str | None
    now: datetime
    past: Window
    future: Window
    rules: tuple[RuleStory, ...]
