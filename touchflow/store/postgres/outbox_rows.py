"""Outbox rows as the array parameters of the PostgreSQL store's many-row statements.

A plan's inserts, its re-plans and a group of outcomes each go to the server as one
statement whose parameters are one array per column (``unnest`` in queries.sql):
one round trip, whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from touchflow.models import OutboxRow, OutboxState
from touchflow.store.postgres.columns import aware
from touchflow.store.postgres.connection import Db, changed
from touchflow.store.postgres.queries import SQL
from touchflow.store.writes import Finish


def _due(row: OutboxRow) -> tuple[datetime, datetime, datetime]:
    return aware(row.due_at), aware(row.expires_at), aware(row.next_attempt_at)


async def insert(db: Db, rows: Sequence[OutboxRow], now: datetime) -> int:
    """New rows; a key already there changes nothing. How many were new."""
    params: dict[str, Any] = {
        "now": now, "key": [], "rule_id": [], "customer_id": [], "category": [],
        "counts_for_caps": [], "state": [], "due_at": [], "expires_at": [],
        "next_attempt_at": [], "reason": [], "last_error": [], "to_addr": [], "channel": [],
    }  # fmt: skip
    for r in rows:
        due, expires, next_at = _due(r)
        for name, value in (
            ("key", r.key), ("rule_id", r.rule_id), ("customer_id", r.customer_id),
            ("category", r.category.value), ("counts_for_caps", r.counts_for_caps),
            ("state", r.state.value), ("due_at", due), ("expires_at", expires),
            ("next_attempt_at", next_at), ("reason", r.reason),
            ("last_error", r.last_error), ("to_addr", r.to), ("channel", r.channel),
        ):  # fmt: skip
            params[name].append(value)
    return await changed(db, SQL["insert_outbox"], params)


async def replan(db: Db, rows: Sequence[tuple[OutboxRow, OutboxState]], now: datetime) -> int:
    """Rewrite rows the planner changed; each only if it is still in the state it was read in."""
    params: dict[str, Any] = {
        "now": now, "key": [], "read_state": [], "state": [], "due_at": [],
        "expires_at": [], "next_attempt_at": [], "reason": [], "last_error": [],
        "to_addr": [], "category": [], "counts_for_caps": [], "channel": [],
    }  # fmt: skip
    for new, old in rows:
        due, expires, next_at = _due(new)
        for name, value in (
            ("key", new.key), ("read_state", old.value), ("state", new.state.value),
            ("due_at", due), ("expires_at", expires), ("next_attempt_at", next_at),
            ("reason", new.reason), ("last_error", new.last_error), ("to_addr", new.to),
            ("category", new.category.value), ("counts_for_caps", new.counts_for_caps),
            ("channel", new.channel),
        ):  # fmt: skip
            params[name].append(value)
    return await changed(db, SQL["replan_outbox"], params)


def finish_params(items: Sequence[Finish], *, owner: str, now: datetime) -> dict[str, Any]:
    """The parameters of ``finish_claims``: each outcome's new state, reason, times and
    Message-ID, an attempt counted if one was made."""
    params: dict[str, Any] = {
        "now": now, "owner": owner, "key": [], "state": [], "reason": [], "error": [],
        "tried": [], "next": [], "due": [], "expires": [], "message_id": [], "sent_at": [],
    }  # fmt: skip
    for item in items:
        r = item.row
        due, expires, next_at = _due(r)
        for name, value in (
            ("key", r.key), ("state", r.state.value), ("reason", r.reason),
            ("error", r.last_error), ("tried", int(item.attempted)), ("next", next_at),
            ("due", due), ("expires", expires), ("message_id", r.message_id),
            ("sent_at", r.sent_at and aware(r.sent_at)),
        ):  # fmt: skip
            params[name].append(value)
    return params
