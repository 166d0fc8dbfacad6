"""A customer whose facts make the planner fail: held, named, logged once; the rest planned.

Validation at every way in refuses what cannot be planned (see touchflow.years),
but a store filled by an older version, by hand or by a bug can still hold such a
record. One of them must not stop planning for everyone (an event at the year
9999 once did, every 2 s in the daemon): the planner catches an unexpected error
at the customer boundary and asks this module for what stands in for that
customer's touchpoints: one held touchpoint (``invalid_data``) per rule that
could concern them, with the field and value at fault when one can be named.
The outbox, ``touchflow outbox``, ``/healthz`` and ``/metrics`` then show it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from touchflow import years
from touchflow.ids import quoted as shown
from touchflow.models import CustomerFacts, HoldReason, PlannedTouchpoint, Status
from touchflow.plan.occurrences import quoted
from touchflow.rules.schema import Rule

# The occurrence part of their keys: no real occurrence is named so (ids are %-quoted).
OCCURRENCE = "invalid_data"
_log = logging.getLogger("touchflow")
# (customer, detail) already logged: the daemon re-plans every few seconds, and one
# line per customer and fault is what an operator can read. Bounded, as a log filter.
_logged: set[tuple[str, str]] = set()
_LOGGED_MAX = 10_000


def key_of(rule_id: str, customer_id: str) -> str:
    """The key of the touchpoint standing in for this rule's touchpoints of the customer."""
    return f"{rule_id}:{quoted(customer_id)}:{OCCURRENCE}"


class UnreadableRecord(Exception):
    """A stored value of the customer's could not be read (``CustomerFacts.unreadable``)."""


def detail_of(
    facts: CustomerFacts, exc: BaseException, dates: Mapping[str, tuple[str, ...]]
) -> str:
    """What is wrong, in the words of an import error when a value can be named."""
    named = facts.unreadable or _bad_value(facts, dates)
    if named is None:
        named = f"{type(exc).__name__}: {exc}"
    return f"customer {facts.customer.id} could not be planned: {named}"


def held(
    facts: CustomerFacts,
    rules: Iterable[Rule],
    *,
    detail: str,
    now: datetime,
    timezone: str,
) -> list[PlannedTouchpoint]:
    """One held touchpoint per rule: due at the start of today (UTC), so its row stays
    put through a day of re-plans instead of being rewritten every time."""
    customer = facts.customer
    due = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    return [
        PlannedTouchpoint(
            key=key_of(rule.id, customer.id),
            rule_id=rule.id,
            customer_id=customer.id,
            occurrence=OCCURRENCE,
            channel=rule.channel,
            template=rule.template,
            category=rule.category,
            priority=rule.priority,
            due_at=due,
            timezone=timezone,
            status=Status.HELD,
            reason=HoldReason.INVALID_DATA,
            detail=detail,
            to=customer.email,
            expires_at=due,
        )
        for rule in rules
    ]


def report(customer_id: str, detail: str) -> None:
    """Log a customer that could not be planned, once per customer and fault."""
    if (customer_id, detail) in _logged:
        return
    if len(_logged) >= _LOGGED_MAX:
        _logged.clear()
    _logged.add((customer_id, detail))
    _log.error(
        "%s; their touchpoints are held (invalid_data) until it is corrected",
        detail,
        extra={"tf": {"event": "unplannable", "customer": customer_id}},  # the text has the detail
    )


def _bad_value(facts: CustomerFacts, dates: Mapping[str, tuple[str, ...]]) -> str | None:
    customer = facts.customer
    for name in ("birthday", "customer_since"):
        problem = _problem(getattr(customer, name))
        if problem:
            return f"{name} {_text(getattr(customer, name))} {problem}"
    for event in facts.events:
        where = f"event {event.id} ({event.type})"
        problem = _problem(event.at)
        if problem:
            return f"{where} at {_text(event.at)} {problem}"
        for name in dates.get(event.type, ()):
            problem = _problem(event.data.get(name))
            if problem:
                return f"{where} data.{name} {_text(event.data.get(name))} {problem}"
    return None


def _problem(value: Any) -> str | None:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            return "is not a date or date-time"
    if isinstance(value, datetime):
        return years.instant_problem(value) if value.utcoffset() is not None else None
    if isinstance(value, date):
        return years.date_problem(value)
    return None


def _text(value: Any) -> str:
    return shown(value.isoformat() if isinstance(value, date) else str(value))
