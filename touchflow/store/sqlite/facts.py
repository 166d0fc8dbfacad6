"""The planner's facts from the SQLite store: some customers, or everyone a page at a time.

Rows are read in bulk (a few statements per call, never one per customer) and
made into facts by ``facts_rows``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from datetime import datetime
from functools import partial
from typing import Any

import aiosqlite

from touchflow.collector import collector_paused
from touchflow.models import CustomerFacts, KnownSince
from touchflow.store.boundary import EVERYONE, PAGE_SIZE
from touchflow.store.facts_rows import facts
from touchflow.store.known_rows import addresses, known_since
from touchflow.store.paging import pages
from touchflow.store.planning import IdRange
from touchflow.store.sqlite.columns import READERS
from touchflow.store.sqlite.connection import Connection, fetch_in
from touchflow.store.sqlite.queries import SQL
from touchflow.store.values import from_utc_text, utc_text
from touchflow.store.writes import HASHED, hashed_address

# Every text that starts with HASHED, as a range the primary key index answers.
_HASHED_RANGE = (HASHED, HASHED[:-1] + chr(ord(HASHED[-1]) + 1))
_Rows = tuple[list[Any], list[Any], list[Any], list[Any]]


class FactsMethods(Connection):
    async def load_facts(
        self, *, customer_ids: Collection[str] | None = None, sent_since: datetime | None = None
    ) -> list[CustomerFacts]:
        """Customers by id with their events and suppressions, in a few bulk queries.

        With ``sent_since``, also the sends due since then that count towards caps.
        """
        with collector_paused():  # rows and facts make no cycles: see touchflow.collector
            # One read transaction: an import running meanwhile is seen whole or not at all.
            async with self._transaction("read facts from", begin="BEGIN") as db:
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
        """Everyone's facts (or those of an id range), ``page_size`` customers at a time,
        in customer id order.

        Memory stays proportional to one page, whatever the number of customers.
        Each page is read in its own transaction: it is consistent in itself, and
        a change that lands between pages is re-planned from the ``changes`` table.
        Rows become objects in a worker thread, so the event loop keeps sending.
        """
        async for page in pages(
            self.facts_page, page_size=page_size, sent_since=sent_since, ids=ids
        ):
            yield page
            del page  # not held while the next one is read

    async def facts_page(
        self, after: str, limit: int, sent_since: datetime | None = None, up_to: str | None = None
    ) -> list[CustomerFacts]:
        """The first ``limit`` customers with ids after ``after`` ("" for the very first)
        and up to ``up_to`` (None: no end), as ``facts_pages`` reads them."""
        # Rows make no cycles either (see touchflow.collector); while they arrive, a
        # collection would walk the page being planned meanwhile, again and again.
        with collector_paused():
            rows = await self._read_page(after, limit, sent_since, up_to)
            if not rows[0]:
                return []
            return await asyncio.to_thread(partial(facts, *rows, read=READERS))

    async def _read_page(
        self, after: str, limit: int, sent_since: datetime | None, up_to: str | None
    ) -> _Rows:
        async with self._transaction("read facts from", begin="BEGIN") as db:
            if up_to is None:
                customers = list(await db.execute_fetchall(SQL["customers_page"], (after, limit)))
            else:
                page = (after, up_to, limit)
                customers = list(await db.execute_fetchall(SQL["customers_page_up_to"], page))
            if not customers:
                return [], [], [], []
            span = (customers[0][0], customers[-1][0])
            events = list(await db.execute_fetchall(SQL["events_page"], span))
            by_address = (*span, *_HASHED_RANGE)
            scopes = SQL["suppression_scopes_page"]
            suppressions = list(await db.execute_fetchall(scopes, by_address))
            sent: list[Any] = []
            if sent_since is not None:
                params = (utc_text(sent_since), *span)
                sent = list(await db.execute_fetchall(SQL["sent_page"], params))
        return customers, events, suppressions, sent

    async def known_since(self, customer_ids: Collection[str]) -> dict[str, KnownSince]:
        """When the store learnt each of these customers' events and suppressions, read
        in one transaction (three statements: SQLite runs them in process)."""
        ids = sorted(set(customer_ids))
        async with self._transaction("read facts from", begin="BEGIN") as db:
            people = await fetch_in(db, SQL["customer_emails_in"], ids)
            emails = [(who, email) for who, email, _ in people]
            phones = [(who, phone) for who, _, phone in people]
            events = await fetch_in(db, SQL["events_recorded_in"], ids)
            found = addresses([*emails, *phones])
            known = await fetch_in(db, SQL["suppressions_known_in"], found)
        return known_since(emails, events, known, instant=from_utc_text, phone_rows=phones)

    async def id_ranges(self, parts: int) -> list[IdRange]:
        """Up to ``parts`` id ranges holding about as many customers each, covering all."""
        total = await self.customer_count()
        parts = max(1, min(parts, total))
        bounds: list[str | None] = [""]
        for k in range(1, parts):  # the last id of part k
            offset = (total * k // parts - 1,)
            rows = await self._fetch(SQL["customer_id_at"], offset)
            bounds.append(rows[0][0])
        edges = [*bounds, None]
        return [(str(edges[i]), edges[i + 1]) for i in range(len(edges) - 1)]

    async def customer_count(self) -> int:
        rows = await self._fetch(SQL["count_customers"], ())
        return int(rows[0][0])


async def _everyone(db: aiosqlite.Connection, sent_since: datetime | None) -> _Rows:
    customers = list(await db.execute_fetchall(SQL["all_customers"]))
    events = list(await db.execute_fetchall(SQL["all_events"]))
    suppressions = list(await db.execute_fetchall(SQL["all_suppression_scopes"]))
    sent: list[Any] = []
    if sent_since is not None:
        sent = list(await db.execute_fetchall(SQL["select_sent"], (utc_text(sent_since),)))
    return customers, events, suppressions, sent


async def _some(db: aiosqlite.Connection, ids: list[str], sent_since: datetime | None) -> _Rows:
    customers = await fetch_in(db, SQL["customers_in"], ids)
    events = await fetch_in(db, SQL["events_of_customers_in"], ids)
    emails = sorted({str(row[1]).lower() for row in customers if row[1]})
    emails += sorted({str(row[2]) for row in customers if row[2]})  # phone numbers (E.164)
    emails += [hashed_address(email) for email in emails]  # erased, came back
    suppressions = await fetch_in(db, SQL["suppression_scopes_in"], emails)
    sent: list[Any] = []
    if sent_since is not None:
        since = (utc_text(sent_since),)
        sent = await fetch_in(db, SQL["sent_of_customers_in"], ids, since)
    return customers, events, suppressions, sent
