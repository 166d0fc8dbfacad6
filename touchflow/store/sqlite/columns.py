"""Customers, events and suppressions as the SQLite store's columns, and back.

Dates are ISO text, instants fixed-width UTC text (``touchflow.store.values``),
attributes and event data compact JSON objects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from touchflow.builders import positional_builder
from touchflow.models import Customer, Event, Suppression, SuppressionScope
from touchflow.store.facts_rows import Readers
from touchflow.store.values import from_utc_text, json_text, utc_text

# raw_decode skips json.loads' two whitespace regex scans per call: this runs once
# per stored customer and event on every load_facts, and we wrote the text compact.
_decode = json.JSONDecoder().raw_decode


def _from_json(text: str) -> dict[str, Any]:
    if text == "{}":
        return {}
    value = _decode(text)[0]  # a fresh dict: we store only JSON objects
    return value if type(value) is dict else dict(value)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _month_day(day: date | None) -> str | None:
    return f"{day.month:02d}-{day.day:02d}" if day else None


def customer_params(c: Customer, created_at: str | None) -> tuple[Any, ...]:
    """A customer as the parameters of ``upsert_customer``."""
    return (
        c.id, c.email, c.phone, c.first_name, c.last_name, c.timezone, c.locale, c.country,
        _iso(c.birthday), _iso(c.customer_since), int(c.consent_marketing),
        int(c.consent_sms), json_text(dict(c.attributes)), _month_day(c.birthday),
        _month_day(c.customer_since), created_at,
    )  # fmt: skip


# Millions of these are built per full plan: see touchflow.builders. Customers and
# events take their fields positionally, in the order of their columns (the golden
# plan test compares them with what the constructors build).
_new_customer = positional_builder(Customer)
_new_event = positional_builder(Event)


def customer(row: Sequence[Any]) -> Customer:
    """A customer from the columns of ``select_customers``."""
    (id_, email, phone, first, last, zone, locale, country, born, since, consent, texts, attrs,
     came) = row  # fmt: skip
    return _new_customer(
        id_, email, phone, first, last, zone, locale, country,
        date.fromisoformat(born) if born else None,  # birthday
        date.fromisoformat(since) if since else None,  # customer_since
        bool(consent),  # consent_marketing
        bool(texts),  # consent_sms
        _from_json(attrs),  # attributes
        datetime.fromisoformat(came) if came else None,  # created_at
    )  # fmt: skip


def event_params(e: Event, now: datetime | None = None) -> tuple[Any, ...]:
    """An event as its columns: (id, type, customer_id, at, data, recorded_at); recorded
    at its own ``recorded_at`` if it has one (a copy), else at ``now`` (None: not known)."""
    recorded = e.recorded_at if e.recorded_at is not None else now
    return (
        e.id, e.type, e.customer_id, utc_text(e.at), json_text(dict(e.data)), utc_text(recorded)
    )  # fmt: skip


def event(row: Sequence[Any]) -> Event:
    """An event from the columns of ``select_events``: the planner's, without recorded_at."""
    id_, type_, customer_id, at, data = row
    return _new_event(
        id_, type_, customer_id, datetime.fromisoformat(at), _from_json(data), None
    )  # fmt: skip


def recorded_event(row: Sequence[Any]) -> Event:
    """An event from the columns of ``select_recorded_events``: with recorded_at."""
    id_, type_, customer_id, at, data, recorded = row
    return _new_event(
        id_, type_, customer_id, datetime.fromisoformat(at), _from_json(data),
        from_utc_text(recorded) if recorded else None,
    )  # fmt: skip


def suppression_params(s: Suppression) -> tuple[Any, ...]:
    """Parameters of ``upsert_suppression``: the address is stored lower-cased."""
    return (s.email.strip().lower(), s.scope.value, s.reason, utc_text(s.created_at))


def suppression(row: Sequence[Any]) -> Suppression:
    """A suppression from the columns of ``select_suppressions``."""
    email, scope, reason, created_at = row
    since = from_utc_text(created_at) if created_at else None
    return Suppression(email=email, scope=SuppressionScope(scope), reason=reason, created_at=since)


# How facts_rows reads this store's rows.
READERS = Readers(customer=customer, event=event, instant=datetime.fromisoformat)
