"""What the HTTP interface writes: events checked against the store, and erasure.

A mixin of ``SqliteStore`` (same connection, same lock, same transactions).

Erasure keeps the suppressions of the erased address, but only as
``sha256:<hex>`` of the lower-cased address: the address itself is gone, and a
customer who later comes back with it is still suppressed (``load_facts``
matches both forms). A hash of an address can be confirmed by whoever knows
the address, so this is pseudonymisation, not anonymity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiosqlite

from touchflow.models import Event
from touchflow.store.writes import EventsWrite, event_differences

HASHED = "sha256:"  # prefix of an erased address in the suppressions table
_CHUNK = 500
# Rows that were only ever a plan: deleted with the customer. Sent, failed, expired and
# claimed rows stay (their keys stop a comeback from repeating a send), without address.
_UNSENT = "('pending', 'retry', 'cancelled', 'suppressed')"
_ERASED = "[erased]"


def hashed_address(email: str) -> str:
    """How an erased address is kept in the suppressions table."""
    return HASHED + hashlib.sha256(email.strip().lower().encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Erasure:
    events: int
    touchpoints_deleted: int
    touchpoints_kept: int  # sent, failed, expired or in flight; their address removed
    suppressions_hashed: int


class CustomerMethods:
    if TYPE_CHECKING:

        def _transaction(
            self, action: str, *, begin: str = "BEGIN IMMEDIATE"
        ) -> AbstractAsyncContextManager[aiosqlite.Connection]: ...

    async def add_events_checked(
        self, events: Sequence[Event], *, progress: Callable[[int], None] | None = None
    ) -> EventsWrite:
        """Store new events if every customer exists and no id names another event; else none.

        One transaction: what is checked is what is written. ``progress`` is told how
        many of ``events`` are written.
        """
        # Imported here: sqlite.py imports this module for its class bases.
        from touchflow.store.sqlite import event_params, insert_event_rows

        params = {e.id: event_params(e) for e in events}
        async with self._transaction("write events to") as db:
            customers = sorted({e.customer_id for e in events})
            known = {r[0] for r in await _in(db, "SELECT id FROM customers WHERE id", customers)}
            select = "SELECT id, type, customer_id, at, data FROM events WHERE id"
            stored = {r[0]: tuple(r) for r in await _in(db, select, sorted(params))}
            unknown = tuple(c for c in customers if c not in known)
            differ = {i: event_differences(row, params[i]) for i, row in stored.items()}
            conflicts = {i: found for i, found in differ.items() if found}
            if unknown or conflicts:
                return EventsWrite(
                    inserted=frozenset(),
                    duplicates=frozenset(),
                    conflicts=tuple(sorted(conflicts)),
                    unknown_customers=unknown,
                    differences=conflicts,
                )
            new = [e for e in events if e.id not in stored]
            if new:  # their columns as compared above: each event is serialised once
                await insert_event_rows(db, [params[e.id] for e in new], progress)
        return EventsWrite(
            inserted=frozenset(e.id for e in new),
            duplicates=frozenset(stored),
            conflicts=(),
            unknown_customers=(),
        )

    async def erase_customer(self, customer_id: str) -> Erasure | None:
        """Remove a customer, their events, unsent touchpoints and pending changes; hash
        the suppressions of their address. None if there is no such customer."""
        async with self._transaction("erase a customer in") as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT email FROM customers WHERE id = ?", (customer_id,)
                )
            )
            if not rows:
                return None
            email = str(rows[0][0] or "").strip()
            await _exec(db, "DELETE FROM customers WHERE id = ?", (customer_id,))
            events = await _exec(db, "DELETE FROM events WHERE customer_id = ?", (customer_id,))
            deleted = await _exec(
                db,
                f"DELETE FROM outbox WHERE customer_id = ? AND state IN {_UNSENT}",
                (customer_id,),
            )
            kept = await _exec(
                db,
                "UPDATE outbox SET to_addr = NULL, last_error = replace(replace(last_error, ?, ?),"
                " ?, ?) WHERE customer_id = ?",  # replace(x, '', y) leaves x as it is
                (email, _ERASED, email.lower(), _ERASED, customer_id),
            )
            hashed = await _hash_suppressions(db, email) if email else 0
            # Last: the statements above must not leave the daemon a change to plan.
            await _exec(db, "DELETE FROM changes WHERE customer_id = ?", (customer_id,))
        return Erasure(
            events=events, touchpoints_deleted=deleted, touchpoints_kept=kept,
            suppressions_hashed=hashed,
        )  # fmt: skip


async def _hash_suppressions(db: aiosqlite.Connection, email: str) -> int:
    plain = email.lower()
    rows = list(
        await db.execute_fetchall(
            "SELECT scope, reason, created_at FROM suppressions WHERE email = ?", (plain,)
        )
    )
    for scope, reason, created_at in rows:
        if reason:  # a bounce reason may quote the address
            reason = reason.replace(email, _ERASED).replace(plain, _ERASED)
        await _exec(
            db,
            "INSERT INTO suppressions (email, scope, reason, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (email, scope) DO NOTHING",
            (hashed_address(plain), scope, reason, created_at),
        )
    await _exec(db, "DELETE FROM suppressions WHERE email = ?", (plain,))
    return len(rows)


async def _exec(db: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> int:
    cursor = await db.execute(sql, params)
    count = max(cursor.rowcount, 0)
    await cursor.close()
    return count


async def _in(db: aiosqlite.Connection, select: str, values: Sequence[str]) -> list[Any]:
    """``select IN (values)``, in chunks."""
    rows: list[Any] = []
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows.extend(await db.execute_fetchall(f"{select} IN ({marks})", tuple(chunk)))
    return rows
