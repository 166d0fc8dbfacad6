"""Outbox rows as the SQLite store's columns and back, and the statements that move them.

Each function runs inside a transaction its caller opened; every write names
the state it expects to find (``AND state = ?``), so a change that raced with
another one is skipped instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from touchflow.builders import builder
from touchflow.models import Category, OutboxRow, OutboxState
from touchflow.store.sqlite.queries import SQL
from touchflow.store.values import from_utc_text, utc_text

# One row of finish_claims' VALUES: built per call, as the group's size varies.
_FINISH_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
FINISH_CHUNK = 200  # rows per statement: 10 parameters each, far below SQLite's limit


def row_params(row: OutboxRow, stamp: str | None) -> tuple[Any, ...]:
    """``row`` as insert_outbox's parameters; ``stamp``: now, formatted once per write."""
    return (
        row.key, row.rule_id, row.customer_id, row.category.value, int(row.counts_for_caps),
        row.state.value, utc_text(row.due_at), utc_text(row.expires_at),
        utc_text(row.next_attempt_at), row.reason, row.last_error, row.to, stamp, stamp,
        row.channel,
    )  # fmt: skip


_new_row = builder(OutboxRow)  # a claim makes hundreds at a time (touchflow.builders)


def to_row(r: Sequence[Any]) -> OutboxRow:
    return _new_row(
        key=r[0], rule_id=r[1], customer_id=r[2], category=Category(r[3]),
        counts_for_caps=bool(r[4]), state=OutboxState(r[5]), due_at=from_utc_text(r[6]),
        expires_at=from_utc_text(r[7]), next_attempt_at=from_utc_text(r[8]), attempts=r[9],
        reason=r[10], last_error=r[11], claim_owner=r[12],
        claim_expires_at=_maybe(r[13]), message_id=r[14], to=r[15],
        created_at=_maybe(r[16]), updated_at=_maybe(r[17]), sent_at=_maybe(r[18]),
        channel=r[19],
    )  # fmt: skip


def _maybe(text: str | None) -> datetime | None:
    return from_utc_text(text) if text else None


async def insert(db: aiosqlite.Connection, rows: Sequence[OutboxRow], now: datetime) -> int:
    stamp = utc_text(now)
    async with db.executemany(SQL["insert_outbox"], [row_params(r, stamp) for r in rows]) as cur:
        return max(cur.rowcount, 0)


async def replan(
    db: aiosqlite.Connection, rows: Sequence[tuple[OutboxRow, OutboxState]], now: datetime
) -> int:
    """Rewrite rows the planner changed; each only if it is still in the state it was read in."""
    stamp = utc_text(now)
    params = [_replan_params(new, old, stamp) for new, old in rows]
    async with db.executemany(SQL["replan_outbox"], params) as cur:
        return max(cur.rowcount, 0)


def _replan_params(new: OutboxRow, old: OutboxState, stamp: str | None) -> tuple[Any, ...]:
    return (
        new.state.value, utc_text(new.due_at), utc_text(new.expires_at),
        utc_text(new.next_attempt_at), new.reason, new.last_error, new.to,
        new.category.value, int(new.counts_for_caps), stamp, new.channel, new.key, old.value,
    )  # fmt: skip


async def claim(
    db: aiosqlite.Connection, *, owner: str, now: datetime, until: datetime, limit: int
) -> list[OutboxRow]:
    params = (owner, utc_text(until), utc_text(now), utc_text(now), limit)
    rows = await db.execute_fetchall(SQL["claim"], params)
    return sorted((to_row(r) for r in rows), key=lambda r: (r.next_attempt_at, r.key))


async def finish_many(
    db: aiosqlite.Connection, items: Sequence[tuple[OutboxRow, bool]], *, owner: str, now: datetime
) -> set[str]:
    """Leave the claims: each ``(row, attempted)`` carries the new state, reason, times and
    Message-ID. Returns the keys that were recorded (still claimed by ``owner``)."""
    done: set[str] = set()
    for start in range(0, len(items), FINISH_CHUNK):
        chunk = items[start : start + FINISH_CHUNK]
        rows = await db.execute_fetchall(*finish_many_statement(chunk, owner=owner, now=now))
        done.update(str(r[0]) for r in rows)
    return done


def finish_many_statement(
    items: Sequence[tuple[OutboxRow, bool]], *, owner: str, now: datetime
) -> tuple[str, tuple[Any, ...]]:
    """The statement recording up to ``FINISH_CHUNK`` outcomes, and its parameters."""
    statement = SQL["finish_claims"].format(values=", ".join([_FINISH_VALUES] * len(items)))
    params = [value for row, attempted in items for value in _finish_params(row, attempted)]
    return statement, (*params, utc_text(now), owner)


def _finish_params(row: OutboxRow, attempted: bool) -> tuple[Any, ...]:
    return (
        row.key, row.state.value, row.reason, row.last_error, int(attempted),
        utc_text(row.next_attempt_at), utc_text(row.due_at), utc_text(row.expires_at),
        row.message_id, utc_text(row.sent_at),
    )  # fmt: skip


async def select(db: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> list[OutboxRow]:
    """The rows a ``select_outbox`` statement finds."""
    return [to_row(r) for r in await db.execute_fetchall(sql, tuple(params))]
