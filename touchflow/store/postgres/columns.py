"""Customers, events, suppressions and outbox rows as the PostgreSQL store's columns, and back.

The columns are typed (date, boolean, timestamptz, jsonb): psycopg gives back
values the models take as they are. Instants in and out are aware, in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from touchflow.builders import builder, positional_builder
from touchflow.models import (
    Category,
    Customer,
    Event,
    OutboxRow,
    OutboxState,
    Suppression,
    SuppressionScope,
)
from touchflow.store.facts_rows import Readers
from touchflow.store.values import json_text


def _month_day(day: date | None) -> str | None:
    return f"{day.month:02d}-{day.day:02d}" if day else None


def customer_params(c: Customer, created_at: datetime | None) -> tuple[Any, ...]:
    """A customer as the parameters of ``upsert_customer``."""
    return (
        c.id, c.email, c.phone, c.first_name, c.last_name, c.timezone, c.locale, c.country,
        c.birthday, c.customer_since, c.consent_marketing, c.consent_sms,
        json_text(dict(c.attributes)), _month_day(c.birthday), _month_day(c.customer_since),
        created_at,
    )  # fmt: skip


# Columns come in the order of the classes' fields: see touchflow.builders.
_new_customer = positional_builder(Customer)
_new_event = positional_builder(Event)


def customer(row: Sequence[Any]) -> Customer:
    """A customer from the columns of ``select_customers``."""
    return _new_customer(*row)


def event(row: Sequence[Any]) -> Event:
    """An event from the columns of ``select_events``: the planner's, without recorded_at."""
    return _new_event(*row, None)


def recorded_event(row: Sequence[Any]) -> Event:
    """An event from the columns of ``select_recorded_events``: with recorded_at."""
    return _new_event(*row)


def _instant(value: datetime) -> datetime:
    return value


READERS = Readers(customer=customer, event=event, instant=_instant)


def suppression_params(s: Suppression) -> tuple[Any, ...]:
    """Parameters of ``upsert_suppression``: the address is stored lower-cased."""
    return (s.email.strip().lower(), s.scope.value, s.reason, s.created_at)


def suppression(row: Sequence[Any]) -> Suppression:
    """A suppression from the columns of ``select_suppressions``."""
    email, scope, reason, created_at = row
    return Suppression(
        email=email, scope=SuppressionScope(scope), reason=reason, created_at=created_at
    )


_new_row = builder(OutboxRow)  # a claim makes hundreds at a time (touchflow.builders)


def outbox_row(r: Sequence[Any]) -> OutboxRow:
    """A row from the columns of ``select_outbox``."""
    return _new_row(
        key=r[0], rule_id=r[1], customer_id=r[2], category=Category(r[3]),
        counts_for_caps=r[4], state=OutboxState(r[5]), due_at=r[6], expires_at=r[7],
        next_attempt_at=r[8], attempts=r[9], reason=r[10], last_error=r[11],
        claim_owner=r[12], claim_expires_at=r[13], message_id=r[14], to=r[15],
        created_at=r[16], updated_at=r[17], sent_at=r[18], channel=r[19],
    )  # fmt: skip


def aware(instant: datetime) -> datetime:
    """``instant`` if it is aware; a naive one is refused where it enters."""
    if instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant!r} cannot be stored; attach a time zone")
    return instant
