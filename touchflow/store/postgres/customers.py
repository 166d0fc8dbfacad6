"""Customers, events and suppressions written to the PostgreSQL store, and erasure.

As in the SQLite store: an import file is written through ``bulk_write`` (one
transaction, a chunk at a time); ``add_events`` skips ids already stored;
``add_events_checked`` stores none unless every customer exists and no id names a
different event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime

from touchflow.models import Customer, Event, Suppression
from touchflow.store.boundary import BulkWrite, Written
from touchflow.store.postgres.columns import (
    aware,
    customer,
    customer_params,
    suppression_params,
)
from touchflow.store.postgres.connection import Connection, Db, changed, fetch
from touchflow.store.postgres.queries import SQL
from touchflow.store.values import json_text, utc_text
from touchflow.store.writes import (
    CustomersWrite,
    Erasure,
    EventsWrite,
    event_differences,
    hashed_address,
)

# Rows a write sends between two reports of its progress.
WRITE_CHUNK = 10_000
_ERASED = "[erased]"
# An event as event_differences compares it: (id, type, customer_id, at, data), and
# then when it was recorded (not compared).
_Columns = tuple[str, str, str, str | None, str, datetime | None]
_Stored = tuple[str, str, str, str | None, str]


class CustomerMethods(Connection):
    async def upsert_customers(
        self,
        customers: Sequence[Customer],
        *,
        now: datetime | None = None,
        progress: Written | None = None,
    ) -> CustomersWrite:
        async with self._transaction("write customers to") as db:
            return await upsert_customers(db, customers, now=now, progress=progress)

    async def add_events(
        self, events: Sequence[Event], *, now: datetime | None = None
    ) -> tuple[int, int]:
        async with self._transaction("write events to") as db:
            inserted = await insert_events(db, [_event_columns(e, now) for e in events])
        return inserted, len(events) - inserted

    async def add_events_checked(
        self,
        events: Sequence[Event],
        *,
        now: datetime | None = None,
        progress: Written | None = None,
    ) -> EventsWrite:
        async with self._transaction("write events to") as db:
            return await add_events_checked(db, events, now=now, progress=progress)

    @asynccontextmanager
    async def bulk_write(self) -> AsyncIterator[BulkWrite]:
        async with AsyncExitStack() as stack:
            yield _Bulk(self, stack)

    async def add_suppression(self, s: Suppression) -> None:
        async with self._transaction("write a suppression to") as db:
            await db.execute(SQL["upsert_suppression"], suppression_params(s))

    async def get_customer(self, customer_id: str) -> Customer | None:
        rows = await self._fetch(SQL["customer"], (customer_id,))
        return customer(rows[0]) if rows else None

    async def erase_customer(self, customer_id: str) -> Erasure | None:
        """Remove a customer, their events, unsent touchpoints and pending changes; hash
        the suppressions of their address. None if there is no such customer."""
        async with self._transaction("erase a customer in") as db:
            rows = await fetch(db, SQL["customer_email"], (customer_id,))
            if not rows:
                return None
            email, phone = str(rows[0][0] or "").strip(), str(rows[0][1] or "")
            who = (customer_id,)
            await changed(db, SQL["delete_customer"], who)
            events = await changed(db, SQL["delete_events_of_customer"], who)
            deleted = await changed(db, SQL["delete_unsent_of_customer"], who)
            kept = await changed(
                db,
                SQL["forget_address_of_customer"],
                (email, _ERASED, email.lower(), _ERASED, customer_id),
            )
            if phone:  # the number (an sms row's address) goes as the e-mail address does
                await changed(
                    db,
                    SQL["forget_address_of_customer"],
                    (phone, _ERASED, phone, _ERASED, customer_id),
                )
            hashed = await _hash_suppressions(db, email) if email else 0
            hashed += await _hash_suppressions(db, phone) if phone else 0
            # Last: the statements above must not leave the daemon a change to plan.
            await changed(db, SQL["delete_changes_of_customer"], who)
        return Erasure(
            events=events, touchpoints_deleted=deleted, touchpoints_kept=kept,
            suppressions_hashed=hashed,
        )  # fmt: skip


class _Bulk:
    """``BulkWrite`` on one pooled connection: its transaction begins at the first write
    and ends with the ``bulk_write`` block (the stack)."""

    def __init__(self, store: Connection, stack: AsyncExitStack) -> None:
        self._store = store
        self._stack = stack
        self._db: Db | None = None

    async def _opened(self) -> Db:
        if self._db is None:
            # _transaction commits when the stack closes normally, else rolls back.
            transaction = self._store._transaction("write to")
            self._db = await self._stack.enter_async_context(transaction)
        return self._db

    async def upsert_customers(
        self,
        customers: Sequence[Customer],
        *,
        now: datetime | None = None,
        progress: Written | None = None,
    ) -> CustomersWrite:
        return await upsert_customers(await self._opened(), customers, now=now, progress=progress)

    async def add_events_checked(
        self,
        events: Sequence[Event],
        *,
        now: datetime | None = None,
        progress: Written | None = None,
    ) -> EventsWrite:
        db = await self._opened()
        return await add_events_checked(db, events, now=now, progress=progress)


async def upsert_customers(
    db: Db, customers: Sequence[Customer], *, now: datetime | None, progress: Written | None
) -> CustomersWrite:
    """``upsert_customers`` inside the caller's transaction."""
    came = aware(now) if now is not None else None
    ids = sorted({c.id for c in customers})
    new = len(ids) - len(await fetch(db, SQL["customer_ids_in"], (ids,)))
    done = 0
    for start in range(0, len(customers), WRITE_CHUNK):
        params = [customer_params(c, came) for c in customers[start : start + WRITE_CHUNK]]
        async with db.cursor() as cursor:
            await cursor.executemany(SQL["upsert_customer"], params)
            # Rows inserted or updated; an unchanged row is skipped by the WHERE.
            done += max(cursor.rowcount, 0)
        if progress is not None:
            progress(start + len(params))
    return CustomersWrite(new=new, updated=done - new, unchanged=len(customers) - done)


async def add_events_checked(
    db: Db, events: Sequence[Event], *, now: datetime | None, progress: Written | None
) -> EventsWrite:
    """``add_events_checked`` inside the caller's transaction."""
    given = {e.id: _event_columns(e, now) for e in events}
    customers = sorted({e.customer_id for e in events})
    known = {r[0] for r in await fetch(db, SQL["customer_ids_in"], (customers,))}
    stored = {r[0]: _stored_columns(r) for r in await fetch(db, SQL["events_in"], (sorted(given),))}
    unknown = tuple(c for c in customers if c not in known)
    differ = {i: event_differences(row, given[i]) for i, row in stored.items()}
    conflicts = {i: found for i, found in differ.items() if found}
    if unknown or conflicts:
        return EventsWrite(
            inserted=frozenset(), duplicates=frozenset(), conflicts=tuple(sorted(conflicts)),
            unknown_customers=unknown, differences=conflicts,
        )  # fmt: skip
    new = [e for e in events if e.id not in stored]
    if new:
        await insert_events(db, [given[e.id] for e in new], progress)
    return EventsWrite(
        inserted=frozenset(e.id for e in new), duplicates=frozenset(stored),
        conflicts=(), unknown_customers=(),
    )  # fmt: skip


async def insert_events(db: Db, rows: Sequence[_Columns], progress: Written | None = None) -> int:
    """Insert events given as their columns (ids already stored are skipped) inside the
    caller's transaction; how many were new."""
    inserted = 0
    for start in range(0, len(rows), WRITE_CHUNK):
        chunk = rows[start : start + WRITE_CHUNK]
        columns = tuple(list(c) for c in zip(*chunk, strict=True))
        inserted += await changed(db, SQL["insert_events"], columns)
        if progress is not None:
            progress(start + len(chunk))
    return inserted


def _event_columns(e: Event, now: datetime | None) -> _Columns:
    """An event as event_differences compares it; ``at`` as fixed-width UTC text, which
    the statement casts back to the instant (naive ones are refused here). Recorded at
    its own ``recorded_at`` if it has one (a copy), else at ``now`` (None: not known)."""
    recorded = e.recorded_at if e.recorded_at is not None else now
    return (
        e.id, e.type, e.customer_id, utc_text(e.at), json_text(dict(e.data)),
        None if recorded is None else aware(recorded),
    )  # fmt: skip


def _stored_columns(row: Sequence[object]) -> _Stored:
    id_, type_, customer_id, at, data = row
    assert isinstance(at, datetime)
    return (str(id_), str(type_), str(customer_id), utc_text(at), str(data))


async def _hash_suppressions(db: Db, email: str) -> int:
    """Keep the suppressions of an erased address only hashed (``touchflow.store.writes``)."""
    plain = email.lower()
    rows = await fetch(db, SQL["suppressions_of_address"], (plain,))
    for scope, reason, created_at in rows:
        if reason:  # a bounce reason may quote the address
            reason = reason.replace(email, _ERASED).replace(plain, _ERASED)
        params = (hashed_address(plain), scope, reason, created_at)
        await changed(db, SQL["insert_hashed_suppression"], params)
    await changed(db, SQL["delete_suppressions_of_address"], (plain,))
    return len(rows)
