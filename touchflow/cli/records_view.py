"""Customers, events and suppressions as tables for people and JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from touchflow.models import Customer, Event, OutboxRow, Suppression
from touchflow.timecalc import zone
from touchflow.words import counted


def _utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _local(value: datetime | None, tz_name: str) -> str:
    return f"{value.astimezone(zone(tz_name)):%Y-%m-%d %H:%M}" if value else "—"


def _data(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))


def customer_json(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id, "email": c.email, "phone": c.phone, "first_name": c.first_name,
        "last_name": c.last_name, "timezone": c.timezone, "locale": c.locale,
        "country": c.country, "birthday": c.birthday.isoformat() if c.birthday else None,
        "customer_since": c.customer_since.isoformat() if c.customer_since else None,
        "consent_marketing": c.consent_marketing, "consent_sms": c.consent_sms,
        "attributes": json.loads(_data(dict(c.attributes))),
    }  # fmt: skip


def event_json(e: Event) -> dict[str, Any]:
    data = json.loads(_data(dict(e.data)))
    return {
        "id": e.id, "type": e.type, "customer": e.customer_id, "at": _utc(e.at), "data": data,
        "recorded_at": _utc(e.recorded_at),
    }  # fmt: skip


def suppression_json(s: Suppression) -> dict[str, Any]:
    return {
        "email": s.email, "scope": s.scope.value, "reason": s.reason,
        "created_at": _utc(s.created_at),
    }  # fmt: skip


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160, highlight=False)


def _table(*columns: str) -> Table:
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column)
    return table


def print_customers(found: Sequence[Customer], *, total: int, more: bool) -> None:
    console = _console()
    if not found:
        console.print(f"No customers here ({total} in the store).")
        return
    table = _table(
        "id", "email", "phone", "name", "timezone", "country", "marketing consent", "sms consent"
    )
    for c in found:
        name = " ".join(x for x in (c.first_name, c.last_name) if x)
        texts = (c.id, c.email, c.phone, name, c.timezone, c.country)
        table.add_row(*(escape(v or "") for v in texts), "yes" if c.consent_marketing else "no",
                      "yes" if c.consent_sms else "no")  # fmt: skip
    console.print(table)
    line = f"{len(found)} shown of {counted(total, 'customer')}."
    if more:
        line += f" Next page: --after {found[-1].id}"
    console.print(escape(line))


def print_customer(
    tz_name: str,
    *,
    customer: Customer,
    events: Sequence[Event],
    event_count: int,
    suppressions: Sequence[Suppression],
    outbox: Sequence[OutboxRow],
) -> None:
    console = _console()
    fields = customer_json(customer)
    attributes = fields.pop("attributes")
    table = Table(show_header=False, box=None)
    for key, value in {**fields, **{f"customer.{k}": v for k, v in attributes.items()}}.items():
        shown = value if isinstance(value, str) else _data(value)
        table.add_row(escape(key), escape("" if value is None else shown))
    console.print(f"Customer {escape(customer.id)}")
    console.print(table)
    zone_name = customer.timezone or tz_name
    if suppressions:
        addresses = " and ".join(x for x in (customer.email, customer.phone) if x)
        console.print(f"\nSuppressions of {escape(addresses)}:")
        _suppression_rows(console, suppressions, zone_name)
    else:
        console.print("\nNo suppressions of this address or number.")
    console.print(f"\nEvents: {len(events)} newest of {event_count}")
    if events:
        _event_rows(console, events, zone_name)
    console.print(f"\nTouchpoints in the outbox: {len(outbox)}")
    if outbox:
        table = _table("state", f"due ({zone_name})", "key", "reason / detail")
        for row in outbox:
            detail = " — ".join(x for x in (row.reason, row.last_error) if x)
            table.add_row(row.state.value, _local(row.due_at, zone_name), escape(row.key),
                          escape(detail))  # fmt: skip
        console.print(table)


def print_events(found: Sequence[Event], count: int, tz_name: str) -> None:
    console = _console()
    console.print(f"{len(found)} newest of {counted(count, 'event')} (times in {tz_name})")
    if found:
        _event_rows(console, found, tz_name)


def _event_rows(console: Console, found: Sequence[Event], tz_name: str) -> None:
    table = _table(f"at ({tz_name})", "type", "id", "data")
    for e in found:
        table.add_row(
            _local(e.at, tz_name), escape(e.type), escape(e.id), escape(_data(dict(e.data)))
        )
    console.print(table)


def print_suppressions(found: Sequence[Suppression], tz_name: str) -> None:
    console = _console()
    if not found:
        console.print("No suppressions.")
        return
    _suppression_rows(console, found, tz_name)


def _suppression_rows(console: Console, found: Sequence[Suppression], tz_name: str) -> None:
    table = _table("address", "scope", "reason", f"since ({tz_name})")
    for s in found:
        table.add_row(
            escape(s.email), s.scope.value, escape(s.reason or ""), _local(s.created_at, tz_name)
        )
    console.print(table)
