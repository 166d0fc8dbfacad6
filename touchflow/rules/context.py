"""What templates and conditions see — built here, and described here as a scope.

One module decides both the values handed to Jinja and the names `touchflow
validate` allows, so a template that validates cannot meet a missing variable.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from touchflow.config.lifecycle import Lifecycle
from touchflow.config.project_config import ProjectConfig
from touchflow.models import CUSTOMER_CORE_FIELDS, Customer, Event, FieldType
from touchflow.rules.schema import (
    CronTrigger,
    DateTrigger,
    EventTrigger,
    HolidayTrigger,
    Rule,
    YearlyTrigger,
)

Scope = Mapping[str, "Scope | None"]

DERIVED_CUSTOMER_FIELDS = ("lifecycle", "tenure_years", "age", "has_open_complaint", "full_name")
LIFECYCLE_STAGES = ("prospect", "new", "short_time", "long_time", "integral")
COMPLAINT_OPENED = "complaint_opened"
COMPLAINT_RESOLVED = "complaint_resolved"


def full_years(since: date, as_of: date) -> int:
    month_day = (since.month, since.day)
    if month_day == (2, 29) and not calendar.isleap(as_of.year):
        month_day = (2, 28)  # born or joined on Feb 29: a year is complete on Feb 28
    return as_of.year - since.year - ((as_of.month, as_of.day) < month_day)


def lifecycle_stage(since: date | None, as_of: date, thresholds: Lifecycle) -> str:
    if since is None or since > as_of:
        return "prospect"
    if (as_of - since).days < thresholds.new_days:
        return "new"
    years = full_years(since, as_of)
    if years < thresholds.long_time_years:
        return "short_time"
    if years < thresholds.integral_years:
        return "long_time"
    return "integral"


def has_open_complaint(events: Sequence[Event], as_of: datetime) -> bool:
    """A complaint_opened without a later complaint_resolved (matched by data.complaint_id)."""
    open_ids: set[str] = set()
    for event in events:
        if event.at > as_of:
            break
        if event.type == COMPLAINT_OPENED:
            open_ids.add(str(event.data.get("complaint_id", "")))
        elif event.type == COMPLAINT_RESOLVED:
            ref = event.data.get("complaint_id")
            if ref is None:
                open_ids.clear()
            else:
                open_ids.discard(str(ref))
    return bool(open_ids)


class CustomerValues:
    """``customer`` in a context, for one customer at many instants.

    What does not depend on the instant (fields, attributes, full name) is
    built once; each call to ``at`` copies it and fills in the derived values.
    """

    __slots__ = ("_base", "_complaints", "_config", "_customer", "_events", "_fresh_lists")

    def __init__(self, customer: Customer, events: Sequence[Event], config: ProjectConfig) -> None:
        self._customer = customer
        self._events = events
        self._config = config
        # Without a complaint_opened there is nothing open, whenever we look.
        self._complaints = any(event.type == COMPLAINT_OPENED for event in events)
        self._base: dict[str, Any] | None = None
        self._fresh_lists: tuple[str, ...] = ()

    def _build(self) -> dict[str, Any]:
        customer, config = self._customer, self._config
        values: dict[str, Any] = {name: None for name in config.customer_attributes}
        for name, kind in config.customer_attributes.items():
            if kind is FieldType.LIST:
                values[name] = []  # so `'vip' in customer.tags` works when the column is empty
        values.update(customer.attributes)
        values.update({name: getattr(customer, name) for name in CUSTOMER_CORE_FIELDS})
        # The derived names in their places (``at`` fills them in), then the one that is fixed.
        values.update(dict.fromkeys(("lifecycle", "tenure_years", "age", "has_open_complaint")))
        names = [customer.first_name, customer.last_name]
        values["full_name"] = " ".join(n for n in names if n) or None
        # Every context gets its own empty default list, as if built from scratch.
        self._fresh_lists = tuple(
            name
            for name, kind in config.customer_attributes.items()
            if kind is FieldType.LIST and name not in customer.attributes
            and name not in CUSTOMER_CORE_FIELDS and name not in DERIVED_CUSTOMER_FIELDS
        )  # fmt: skip
        return values

    def at(self, as_of: datetime, local_day: date) -> dict[str, Any]:
        """The values as of ``as_of``, a day of ``local_day`` in the customer's zone."""
        base = self._base
        if base is None:
            base = self._base = self._build()
        values = dict(base)
        for name in self._fresh_lists:
            values[name] = []
        since = self._customer.customer_since
        values["lifecycle"] = lifecycle_stage(since, local_day, self._config.lifecycle)
        values["tenure_years"] = full_years(since, local_day) if since and since <= local_day else 0
        birthday = self._customer.birthday
        values["age"] = full_years(birthday, local_day) if birthday else None
        values["has_open_complaint"] = self._complaints and has_open_complaint(self._events, as_of)
        return values


def customer_scope(config: ProjectConfig) -> dict[str, Scope | None]:
    names: Iterable[str] = (
        *CUSTOMER_CORE_FIELDS,
        *config.customer_attributes,
        *DERIVED_CUSTOMER_FIELDS,
    )
    return {name: None for name in names}


def event_context(event: Event, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "at": event.at, "data": dict(data)}


def occurrence_scope(rule: Rule) -> dict[str, Scope | None]:
    trig = rule.trigger
    if isinstance(trig, EventTrigger):
        return {"key": None}
    fields: dict[str, Scope | None] = {"key": None, "date": None, "year": None}
    if isinstance(trig, YearlyTrigger):
        fields["years"] = None
    if isinstance(trig, HolidayTrigger):
        fields["holiday"] = None
    return fields


def rule_scope(rule: Rule, config: ProjectConfig) -> dict[str, Scope | None]:
    """Every name a template used by ``rule`` (or its conditions) may reference."""
    scope: dict[str, Scope | None] = {
        "customer": customer_scope(config),
        "occurrence": occurrence_scope(rule),
        "touchpoint": {"key": None, "rule": None, "category": None, "send_at": None},
        "vars": {name: None for name in config.vars},
    }
    if isinstance(rule.trigger, EventTrigger):
        # Updates merge their data into the occurrence, so their fields are usable too.
        data: dict[str, Scope | None] = {}
        for event_type in (rule.trigger.event, *rule.trigger.updates):
            data.update({name: None for name in config.events.get(event_type, {})})
        scope["event"] = {"id": None, "type": None, "at": None, "data": data}
    return scope


def trigger_summary(rule: Rule) -> str:
    """One line naming the trigger, for tables and traces."""
    trig = rule.trigger
    if isinstance(trig, EventTrigger):
        return f"event {trig.event}"
    if isinstance(trig, YearlyTrigger):
        return f"yearly on customer.{trig.field}"
    if isinstance(trig, DateTrigger):
        return f"every {trig.month:02d}-{trig.day:02d}"
    if isinstance(trig, HolidayTrigger):
        return f"holiday {trig.name}"
    assert isinstance(trig, CronTrigger)
    return f"cron {trig.expression}"
