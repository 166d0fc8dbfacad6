"""What `touchflow customers|events|suppressions|sample --remove` read and delete.

A mixin of ``SqliteStore`` (same connection, same lock, same transactions).
Lists are pages in a stable order (customers by id, after a given id), so a
million customers never come back in one answer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiosqlite

from touchflow.models import Customer, Event, Suppression, SuppressionScope
from touchflow.store.sqlite_customers import hashed_address
from touchflow.store.values import from_utc_text

_CHUNK = 500
_SUPPRESSION_COLUMNS = "SELECT email, scope, reason, created_at FROM suppressions"


@dataclass(frozen=True, slots=True, kw_only=True)
class Removal:
    """What ``delete_customers`` took away."""

    customers: int
    events: int
    touchpoints: int
    suppressions: int


class RecordMethods:
    if TYPE_CHECKING:

        def _transaction(
            self, action: str, *, begin: str = "BEGIN IMMEDIATE"
        ) -> AbstractAsyncContextManager[aiosqlite.Connection]: ...

        async def _fetch(
            self, sql: str, params: tuple[Any, ...], *, action: str = "read"
        ) -> list[Any]: ...

    async def list_customers(
        self, *, after: str = "", limit: int, email: str | None = None
    ) -> list[Customer]:
        """Up to ``limit`` customers with ids after ``after``, by id; ``email``: only those
        with this address (case-insensitive)."""
        # Imported here: sqlite.py imports this module for its class bases.
        from touchflow.store.sqlite import _SELECT_CUSTOMERS, _customer

        where, params = "id > ?", [after]
        if email is not None:
            where += " AND lower(email) = ?"  # the customers_email index
            params.append(email.strip().lower())
        rows = await self._fetch(
            f"{_SELECT_CUSTOMERS} WHERE {where} ORDER BY id LIMIT ?", (*params, limit)
        )
        return [_customer(row) for row in rows]

    async def customer_events(
        self, customer_id: str, *, limit: int | None = None
    ) -> tuple[list[Event], int]:
        """A customer's events, newest first (up to ``limit``), and how many there are."""
        from touchflow.store.sqlite import _SELECT_EVENTS, _event

        count = await self._fetch(
            "SELECT COUNT(*) FROM events WHERE customer_id = ?", (customer_id,)
        )
        rows = await self._fetch(
            f"{_SELECT_EVENTS} WHERE customer_id = ? ORDER BY at DESC, id DESC LIMIT ?",
            (customer_id, -1 if limit is None else limit),  # LIMIT -1: no limit
        )
        return [_event(row) for row in rows], int(count[0][0])

    async def list_suppressions(
        self, *, email: str | None = None, limit: int | None = None
    ) -> list[Suppression]:
        """Suppressions, newest first; ``email``: those of this address, also kept hashed
        after an erasure."""
        where, params = "1 = 1", []
        if email is not None:
            plain = email.strip().lower()
            where, params = "email IN (?, ?)", [plain, hashed_address(plain)]
        rows = await self._fetch(
            f"{_SUPPRESSION_COLUMNS} WHERE {where} ORDER BY created_at DESC, email, scope LIMIT ?",
            (*params, -1 if limit is None else limit),
        )
        return [_suppression(row) for row in rows]

    async def remove_suppressions(self, email: str, scopes: Collection[SuppressionScope]) -> int:
        """Lift the suppressions of ``email`` (plain or hashed) in these scopes; how many.

        The address's customers are marked changed: their held touchpoints are re-planned.
        """
        plain = email.strip().lower()
        marks = ", ".join("?" * len(scopes))
        async with self._transaction("remove suppressions from") as db:
            cursor = await db.execute(
                f"DELETE FROM suppressions WHERE email IN (?, ?) AND scope IN ({marks})",
                (plain, hashed_address(plain), *(s.value for s in scopes)),
            )
            removed = max(cursor.rowcount, 0)
            await cursor.close()
            if removed:  # no trigger on DELETE: tell a running daemon here
                await _exec(
                    db,
                    "INSERT INTO changes (customer_id) SELECT id FROM customers "
                    "WHERE lower(email) = ?",
                    (plain,),
                )
        return removed

    async def delete_customers(
        self, customer_ids: Sequence[str], suppressions: Sequence[Suppression] = ()
    ) -> Removal:
        """Delete these customers with every event and outbox row of theirs, and these
        suppressions (by address and scope), in one transaction: no trace is kept
        (unlike an erasure, which keeps sent rows and hashed suppressions)."""
        counts = {"customers": 0, "events": 0, "outbox": 0}
        async with self._transaction("delete customers from") as db:
            for start in range(0, len(customer_ids), _CHUNK):
                chunk = tuple(customer_ids[start : start + _CHUNK])
                marks = ", ".join("?" * len(chunk))
                for table in ("customers", "events", "outbox"):
                    column = "id" if table == "customers" else "customer_id"
                    sql = f"DELETE FROM {table} WHERE {column} IN ({marks})"
                    counts[table] += await _exec(db, sql, chunk)
                # Last: the deletes above must not leave the daemon a change to plan.
                await _exec(db, f"DELETE FROM changes WHERE customer_id IN ({marks})", chunk)
            removed = 0
            for s in suppressions:
                sql = "DELETE FROM suppressions WHERE email = ? AND scope = ?"
                removed += await _exec(db, sql, (s.email.strip().lower(), s.scope.value))
        return Removal(
            customers=counts["customers"], events=counts["events"],
            touchpoints=counts["outbox"], suppressions=removed,
        )  # fmt: skip

    async def existing_customer_ids(self, customer_ids: Sequence[str]) -> set[str]:
        """Which of these ids are customers in the store."""
        found: set[str] = set()
        for start in range(0, len(customer_ids), _CHUNK):
            chunk = tuple(customer_ids[start : start + _CHUNK])
            marks = ", ".join("?" * len(chunk))
            rows = await self._fetch(f"SELECT id FROM customers WHERE id IN ({marks})", chunk)
            found.update(str(row[0]) for row in rows)
        return found


def _suppression(row: Sequence[Any]) -> Suppression:
    email, scope, reason, created_at = row
    since = from_utc_text(created_at) if created_at else None
    return Suppression(email=email, scope=SuppressionScope(scope), reason=reason, created_at=since)


async def _exec(db: aiosqlite.Connection, sql: str, params: tuple[Any, ...]) -> int:
    cursor = await db.execute(sql, params)
    count = max(cursor.rowcount, 0)
    await cursor.close()
    return count
