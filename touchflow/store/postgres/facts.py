"""The planner's facts from the PostgreSQL store: some customers, or everyone a page at a time.

Rows are read in bulk (a few statements per call, never one per customer), each
call in one read-only REPEATABLE READ transaction, so its statements see one
moment; they are made into facts by ``touchflow.store.facts_rows``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from datetime import datetime
from functools import partial
from typing import Any

from touchflow.collector import collector_paused
from touchflow.models import CustomerFacts, KnownSince
from touchflow.store.boundary import EVERYONE, PAGE_SIZE
from touchflow.store.facts_rows import facts
from touchflow.store.known_rows import addresses, known_since
from touchflow.store.paging import pages
from touchflow.store.planning import IdRange
from touchflow.store.postgres.columns import READERS, aware
from touchflow.store.postgres.connection import Connection, Db, fetch
from touchflow.store.postgres.queries import SQL
from touchflow.store.writes import HASHED, hashed_address

# Every text that starts with HASHED, as a range the primary key index answers.
_HASHED_RANGE = (HASHED, HASHED[:-1] + chr(ord(HASHED[-1]) + 1))
_Rows = tuple[list[Any], list[Any], list[Any], list[Any]]


class FactsMethods(Connection):
    async def load_facts(
        self, *, customer_ids: Collection[str] | None = None, sent_since: datetime | None = None
    ) -> list[CustomerFacts]:
        with collector_paused():  # rows and facts make no cycles: see touchflow.collector
            async with self._transaction("read facts from", snapshot=True) as db:
                if customer_ids is None:
                    rows = await _everyone(db, sent_since)
                else:
                    rows = await _some(db, sorted(set(customer_ids)), sent_since)
            return facts(*rows, read=READERS)

    async def facts_pages(
        self,
        *,
        page_size: int = PAGE_SIZE,
        sent_since: datetime | None = None,
        ids: IdRange = EVERYONE,
    ) -> AsyncIterator[list[CustomerFacts]]:
        """Pages in id order; the next is read (on another connection of the pool) while
        the caller works on this one."""
        async for page in pages(
            self.facts_page, page_size=page_size, sent_since=sent_since, ids=ids
        ):
            yield page
            del page  # not held while the next one is read

    async def facts_page(
        self, after: str, limit: int, sent_since: datetime | None = None, up_to: str | None = None
    ) -> list[CustomerFacts]:
        with collector_paused():
            rows = await self._read_page(after, limit, sent_since, up_to)
            if not rows[0]:
                return []
            return await asyncio.to_thread(partial(facts, *rows, read=READERS))

    async def _read_page(
        self, after: str, limit: int, sent_since: datetime | None, up_to: str | None
    ) -> _Rows:
        async with self._transaction("read facts from", snapshot=True) as db:
            if up_to is None:
                customers = await fetch(db, SQL["customers_page"], (after, limit))
            else:
                customers = await fetch(db, SQL["customers_page_up_to"], (after, up_to, limit))
            if not customers:
                return [], [], [], []
            span = (customers[0][0], customers[-1][0])
            events = await fetch(db, SQL["events_page"], span)
            by_address = (*span, *span, *_HASHED_RANGE)
            suppressions = await fetch(db, SQL["suppression_scopes_page"], by_address)
            sent: list[Any] = []
            if sent_since is not None:
                sent = await fetch(db, SQL["sent_page"], (sent_since, *span))
        return customers, events, suppressions, sent

    async def known_since(self, customer_ids: Collection[str]) -> dict[str, KnownSince]:
        """When the store learnt each of these customers' events and suppressions: two
        round trips (the suppressions are looked up by the addresses the first finds),
        on one connection, without a transaction's BEGIN and COMMIT."""
        ids = sorted(set(customer_ids))
        with self._errors("read facts from"):
            async with self._pool.connection() as db:
                rows = await fetch(db, SQL["emails_and_events_recorded_in"], (ids, ids, ids))
                emails = [(who, email) for who, email, _, is_customer in rows if is_customer]
                phones = [(who, phone) for who, phone, _, kind in rows if kind is None]
                events = [row[:3] for row in rows if row[3] is False]
                wanted = (addresses([*emails, *phones]),)
                found = await fetch(db, SQL["suppressions_known_in"], wanted)
        return known_since(emails, events, found, instant=aware, phone_rows=phones)

    async def id_ranges(self, parts: int) -> list[IdRange]:
        total = await self.customer_count()
        parts = max(1, min(parts, total))
        bounds: list[str | None] = [""]
        for k in range(1, parts):  # the last id of part k
            rows = await self._fetch(SQL["customer_id_at"], (total * k // parts - 1,))
            bounds.append(rows[0][0])
        edges = [*bounds, None]
        return [(str(edges[i]), edges[i + 1]) for i in range(len(edges) - 1)]

    async def customer_count(self) -> int:
        rows = await self._fetch(SQL["count_customers"])
        return int(rows[0][0])


async def _everyone(db: Db, sent_since: datetime | None) -> _Rows:
    customers = await fetch(db, SQL["all_customers"])
    events = await fetch(db, SQL["all_events"])
    suppressions = await fetch(db, SQL["all_suppression_scopes"])
    sent: list[Any] = []
    if sent_since is not None:
        sent = await fetch(db, SQL["select_sent"], (sent_since,))
    return customers, events, suppressions, sent


async def _some(db: Db, ids: list[str], sent_since: datetime | None) -> _Rows:
    customers = await fetch(db, SQL["customers_in"], (ids,))
    events = await fetch(db, SQL["events_of_customers_in"], (ids,))
    emails = sorted({str(row[1]).lower() for row in customers if row[1]})
    emails += sorted({str(row[2]) for row in customers if row[2]})  # phone numbers (E.164)
    emails += [hashed_address(email) for email in emails]  # erased, came back
    suppressions = await fetch(db, SQL["suppression_scopes_in"], (emails,))
    sent: list[Any] = []
    if sent_since is not None:
        sent = await fetch(db, SQL["sent_of_customers_in"], (sent_since, ids))
    return customers, events, suppressions, sent
