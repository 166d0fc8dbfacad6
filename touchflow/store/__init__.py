"""Where customers, events and suppressions live: the ``Store`` boundary.

The interface is small and its SQL portable (``INSERT ... ON CONFLICT``), so a
PostgreSQL store can follow the SQLite one. Every method is async; every write
is one transaction; failures are ``StoreError`` naming the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from touchflow.models import Customer, CustomerFacts, Event, Suppression
from touchflow.store.sqlite import SqliteStore, Written
from touchflow.store.writes import CustomersWrite, EventsWrite

__all__ = ["CustomersWrite", "EventsWrite", "SqliteStore", "Store"]


class Store(Protocol):
    async def upsert_customers(
        self,
        customers: Sequence[Customer],
        *,
        now: datetime | None = None,
        progress: Written | None = None,
    ) -> CustomersWrite:
        """Insert or replace (by id) every customer, in one transaction; how many were
        new, updated and unchanged. A new customer's ``created_at`` is ``now`` (None: not
        known); a replaced one keeps its own. ``progress`` is told how many are written."""
        ...

    async def add_events(self, events: Sequence[Event]) -> tuple[int, int]:
        """Store new events in one transaction: ``(inserted, already_present)`` by event id."""
        ...

    async def add_events_checked(
        self, events: Sequence[Event], *, progress: Written | None = None
    ) -> EventsWrite:
        """Store new events if every customer exists and no stored id names a different
        event; else store none and say which. One transaction."""
        ...

    async def add_suppression(self, s: Suppression) -> None:
        """Record a suppression (email lower-cased); a repeat of (email, scope) updates it."""
        ...

    async def customer_count(self) -> int: ...

    async def get_customer(self, customer_id: str) -> Customer | None: ...

    async def load_facts(
        self, *, customer_ids: Collection[str] | None = None, sent_since: datetime | None = None
    ) -> list[CustomerFacts]:
        """Every customer (or those named), ordered by id, with events sorted by (at, id),
        the suppression scopes on its email (case-insensitive) and, with ``sent_since``,
        the sends that count towards caps and were due since then (they count at
        their due time: see ``touchflow.plan.candidates.apply_caps``)."""
        ...

    def facts_pages(
        self,
        *,
        page_size: int = ...,
        sent_since: datetime | None = None,
        ids: tuple[str, str | None] = ...,
    ) -> AsyncIterator[list[CustomerFacts]]:
        """Everyone's facts (or those with ids in ``(after, up_to]``) as ``load_facts()``
        gives them, ``page_size`` customers at a time: memory follows the page."""
        ...

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
