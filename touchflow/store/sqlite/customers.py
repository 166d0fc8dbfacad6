"""Customers, events and suppressions written to the SQLite store, and erasure.

An import file is written through ``bulk_write``: a chunk at a time, all in one
transaction. Events come in two ways: ``add_events`` (the sample, the daemon's tests) stores
the new ones and skips ids already stored; ``add_events_checked`` (an import
file, `touchflow event`, the HTTP interface) first checks that every customer
exists and no id names a different event, and stores none unless all pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Any

import aiosqlite

from touchflow.models import Customer, Event, Suppression
from touchflow.store.boundary import BulkWrite, Written
from touchflow.store.sqlite.columns import (
    customer,
    customer_params,
    event_params,
    suppression_params,
)
from touchflow.store.sqlite.connection import Connection, changed, fetch_in, run
from touchflow.store.sqlite.queries import SQL
from touchflow.store.values import utc_text
from touchflow.store.writes import (
    CustomersWrite,
    Erasure,
    EventsWrite,
    event_differences,
    hashed_address,
)

# Rows a write sends to SQLite between two reports of its progress.
WRITE_CHUNK = 10_000
_ERASED = "[erased]"


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
            inserted = await insert_events(db, [event_params(e, now) for e in events])
        return inserted, len(events) - inserted

    async def add_events_checked(
        self,
        events: Sequence[Event],
        *,
        now: datetime | None = None,
        progress: Written | None = None,
    ) -> EventsWrite:
        """Store new events if every customer exists and no id names another event; else none.

        One transaction: what is checked is what is written. A new event is recorded at
        its own ``recorded_at``, else at ``now``. ``progress`` is told how many of
        ``events`` are written.
        """
        async with self._transaction("write events to") as db:
            return await add_events_checked(db, events, now=now, progress=progress)

    @asynccontextmanager
    async def bulk_write(self) -> AsyncIterator[BulkWrite]:
        async with AsyncExitStack() as stack:
            yield _Bulk(self, stack)

    async def add_suppression(self, s: Suppression) -> None:
        async with self._transaction("write a suppression to") as db:
            await run(db.execute(SQL["upsert_suppression"], suppression_params(s)))

    async def get_customer(self, customer_id: str) -> Customer | None:
        rows = await self._fetch(SQL["customer"], (customer_id,))
        return customer(rows[0]) if rows else None

    async def erase_customer(self, customer_id: str) -> Erasure | None:
        """Remove a customer, their events, unsent touchpoints and pending changes; hash
        the suppressions of their address. None if there is no such customer."""
        async with self._transaction("erase a customer in") as db:
            rows = list(await db.execute_fetchall(SQL["customer_email"], (customer_id,)))
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
    """``BulkWrite`` on the store's connection: its transaction begins at the first
    write and ends with the ``bulk_write`` block (the stack)."""

    def __init__(self, store: Connection, stack: AsyncExitStack) -> None:
        self._store = store
        self._stack = stack
        self._db: aiosqlite.Connection | None = None

    async def _opened(self) -> aiosqlite.Connection:
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
    db: aiosqlite.Connection,
    customers: Sequence[Customer],
    *,
    now: datetime | None,
    progress: Written | None,
) -> CustomersWrite:
    """``upsert_customers`` inside the caller's transaction."""
    came = utc_text(now)
    ids = sorted({c.id for c in customers})
    # New ones are the ids not stored yet: looked up by key, not by counting the table,
    # so a chunk of a big import costs the same at its end as at its start.
    new = len(ids) - len(await fetch_in(db, SQL["customer_ids_in"], ids))
    done = 0
    # Chunks, so a long import can show how far it got: still one transaction.
    for start in range(0, len(customers), WRITE_CHUNK):
        params = [customer_params(c, came) for c in customers[start : start + WRITE_CHUNK]]
        async with db.executemany(SQL["upsert_customer"], params) as cur:
            # Rows inserted or updated; an unchanged row is skipped by the WHERE.
            done += max(cur.rowcount, 0)
        if progress is not None:
            progress(start + len(params))
    return CustomersWrite(new=new, updated=done - new, unchanged=len(customers) - done)


async def add_events_checked(
    db: aiosqlite.Connection,
    events: Sequence[Event],
    *,
    now: datetime | None,
    progress: Written | None,
) -> EventsWrite:
    """``add_events_checked`` inside the caller's transaction."""
    params = {e.id: event_params(e, now) for e in events}
    customers = sorted({e.customer_id for e in events})
    known = {r[0] for r in await fetch_in(db, SQL["customer_ids_in"], customers)}
    stored = {r[0]: tuple(r) for r in await fetch_in(db, SQL["events_in"], sorted(params))}
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
        await insert_events(db, [params[e.id] for e in new], progress)
    return EventsWrite(
        inserted=frozenset(e.id for e in new),
        duplicates=frozenset(stored),
        conflicts=(),
        unknown_customers=(),
    )


async def insert_events(
    db: aiosqlite.Connection, rows: Sequence[tuple[Any, ...]], progress: Written | None = None
) -> int:
    """Insert events given as ``event_params`` (ids already stored are skipped) inside the
    caller's transaction; how many were new."""
    inserted = 0
    for start in range(0, len(rows), WRITE_CHUNK):
        chunk = rows[start : start + WRITE_CHUNK]
        async with db.executemany(SQL["insert_event"], chunk) as cur:
            # For executemany, rowcount sums the rows each statement inserted.
            inserted += max(cur.rowcount, 0)
        if progress is not None:
            progress(start + len(chunk))
    return inserted


async def _count_customers(db: aiosqlite.Connection) -> int:
    rows = await db.execute_fetchall(SQL["count_customers"])
    return int(next(iter(rows))[0])


async def _hash_suppressions(db: aiosqlite.Connection, email: str) -> int:
    """Keep the suppressions of an erased address only hashed (``touchflow.store.writes``)."""
    plain = email.lower()
    rows = list(await db.execute_fetchall(SQL["suppressions_of_address"], (plain,)))
    for scope, reason, created_at in rows:
        if reason:  # a bounce reason may quote the address
            reason = reason.replace(email, _ERASED).replace(plain, _ERASED)
        params = (hashed_address(plain), scope, reason, created_at)
        await changed(db, SQL["insert_hashed_suppression"], params)
    await changed(db, SQL["delete_suppressions_of_address"], (plain,))
    return len(rows)
