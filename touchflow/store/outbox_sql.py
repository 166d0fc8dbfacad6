"""Outbox statements for the SQLite store, one function per state change.

Each function runs inside a transaction its caller opened; every write names
the state it expects to find (``AND state = ?``), so a change that raced with
another one is skipped instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from touchflow.builders import builder
from touchflow.models import Category, OutboxRow, OutboxState, Suppression
from touchflow.store.values import from_utc_text, utc_text

COLUMNS = (
    "key, rule_id, customer_id, category, counts_for_caps, state, due_at, expires_at, "
    "next_attempt_at, attempts, reason, last_error, claim_owner, claim_expires_at, "
    "message_id, to_addr, created_at, updated_at, sent_at"
)
# A repeated suppression keeps its first date, and its reason unless a new one is given
# (shared with SqliteStore.add_suppression; a 5.1.x bounce writes one here).
UPSERT_SUPPRESSION = """
    INSERT INTO suppressions (email, scope, reason, created_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (email, scope) DO UPDATE SET
        reason = COALESCE(excluded.reason, suppressions.reason),
        created_at = COALESCE(suppressions.created_at, excluded.created_at)
"""
_READY = "state IN ('pending', 'retry')"
_INSERT = f"""
    INSERT INTO outbox ({COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, NULL, NULL, NULL, ?, ?, ?, NULL)
    ON CONFLICT (key) DO NOTHING
"""
_REPLAN = """
    UPDATE outbox SET state = ?, due_at = ?, expires_at = ?, next_attempt_at = ?,
        reason = ?, last_error = ?, to_addr = ?, category = ?, counts_for_caps = ?,
        updated_at = ?
    WHERE key = ? AND state = ?
"""
_CLAIM = f"""
    UPDATE outbox SET state = 'claimed', claim_owner = ?, claim_expires_at = ?, updated_at = ?
    WHERE key IN (
        SELECT key FROM outbox WHERE {_READY} AND next_attempt_at <= ?
        ORDER BY next_attempt_at LIMIT ?
    )
    RETURNING {COLUMNS}
"""
# The outcomes of several claimed rows in one statement, which SQLite runs as one
# transaction (autocommit): one round trip to the store's thread for a group of sends.
# RETURNING names the rows that were still ours; the others' claims were taken back.
_FINISH_MANY = """
    WITH v(k, new_state, new_reason, new_error, tried, new_next, new_due, new_expires,
           new_message_id, new_sent_at) AS (VALUES {values})
    UPDATE outbox SET state = v.new_state, reason = v.new_reason, last_error = v.new_error,
        attempts = attempts + v.tried,
        next_attempt_at = COALESCE(v.new_next, next_attempt_at),
        due_at = COALESCE(v.new_due, due_at),
        expires_at = COALESCE(v.new_expires, expires_at),
        message_id = COALESCE(v.new_message_id, message_id), sent_at = v.new_sent_at,
        claim_owner = NULL, claim_expires_at = NULL, updated_at = ?
    FROM v WHERE outbox.key = v.k AND outbox.state = 'claimed' AND outbox.claim_owner = ?
    RETURNING outbox.key
"""
_FINISH_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
FINISH_CHUNK = 200  # rows per statement: 10 parameters each, far below SQLite's limit


def row_params(row: OutboxRow, now: datetime) -> tuple[Any, ...]:
    stamp = utc_text(now)
    return (
        row.key, row.rule_id, row.customer_id, row.category.value, int(row.counts_for_caps),
        row.state.value, utc_text(row.due_at), utc_text(row.expires_at),
        utc_text(row.next_attempt_at), row.reason, row.last_error, row.to, stamp, stamp,
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
    )  # fmt: skip


def _maybe(text: str | None) -> datetime | None:
    return from_utc_text(text) if text else None


def suppression_params(s: Suppression) -> tuple[Any, ...]:
    """Parameters of ``UPSERT_SUPPRESSION``: the address is stored lower-cased."""
    return (s.email.strip().lower(), s.scope.value, s.reason, utc_text(s.created_at))


async def insert(db: aiosqlite.Connection, rows: Sequence[OutboxRow], now: datetime) -> int:
    async with db.executemany(_INSERT, [row_params(r, now) for r in rows]) as cur:
        return max(cur.rowcount, 0)


async def replan(
    db: aiosqlite.Connection, rows: Sequence[tuple[OutboxRow, OutboxState]], now: datetime
) -> int:
    """Rewrite rows the planner changed; each only if it is still in the state it was read in."""
    stamp = utc_text(now)
    params = [_replan_params(new, old, stamp) for new, old in rows]
    async with db.executemany(_REPLAN, params) as cur:
        return max(cur.rowcount, 0)


def _replan_params(new: OutboxRow, old: OutboxState, stamp: str | None) -> tuple[Any, ...]:
    return (
        new.state.value, utc_text(new.due_at), utc_text(new.expires_at),
        utc_text(new.next_attempt_at), new.reason, new.last_error, new.to,
        new.category.value, int(new.counts_for_caps), stamp, new.key, old.value,
    )  # fmt: skip


async def claim(
    db: aiosqlite.Connection, *, owner: str, now: datetime, until: datetime, limit: int
) -> list[OutboxRow]:
    params = (owner, utc_text(until), utc_text(now), utc_text(now), limit)
    rows = await db.execute_fetchall(_CLAIM, params)
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
    statement = _FINISH_MANY.format(values=", ".join([_FINISH_VALUES] * len(items)))
    params = [value for row, attempted in items for value in _finish_params(row, attempted)]
    return statement, (*params, utc_text(now), owner)


def _finish_params(row: OutboxRow, attempted: bool) -> tuple[Any, ...]:
    return (
        row.key, row.state.value, row.reason, row.last_error, int(attempted),
        utc_text(row.next_attempt_at), utc_text(row.due_at), utc_text(row.expires_at),
        row.message_id, utc_text(row.sent_at),
    )  # fmt: skip


async def select(db: aiosqlite.Connection, where: str, params: Iterable[Any]) -> list[OutboxRow]:
    rows = await db.execute_fetchall(f"SELECT {COLUMNS} FROM outbox WHERE {where}", tuple(params))
    return [to_row(r) for r in rows]


def in_list(column: str, values: Collection[str]) -> tuple[str, list[str]]:
    """``column IN (?, ?…)`` and its parameters (callers chunk long lists)."""
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)
