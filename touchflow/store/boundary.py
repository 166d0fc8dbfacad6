"""The ``Store`` boundary: everything the daemon, the preview, the HTTP interface and the CLI
ask of storage, as Protocols an implementation fills and ``tests/contract`` checks.

The boundary is cut by what the callers need, one Protocol per kind of data, so a
reader (or a fake) sees each part's contract on its own: ``FactsStore`` (customers,
events, suppressions and the facts the planner reads from them), ``OutboxStore``
(the plan written, claimed, finished, taken back, re-queued), ``ChangesStore``
(which customers to plan again), ``PlanRunsStore`` (a full plan shared out in id
ranges), ``RecordsStore`` (what operators list and delete)
and ``StatsStore`` (counts for /metrics, in ``counts``). ``Store`` is all of them with
meta and a lifecycle: what ``open_store`` returns and what callers hold. A second database
(PostgreSQL, issue 16) is a second class filling ``Store``, and one more parameter
of the contract suite's fixture.

Rules every method keeps: it is async; every write is one transaction (all or
nothing); instants given must be aware; failures of the store itself are
``StoreError`` naming it; an outbox write names the state it expects a row in, so
a change that raced with another one is skipped instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from touchflow.models import (
    Customer,
    CustomerFacts,
    Event,
    KnownSince,
    OutboxRow,
    OutboxState,
    Suppression,
    SuppressionScope,
)
from touchflow.store.counts import StatsStore
from touchflow.store.history import CopyStore
from touchflow.store.planning import ChangesStore, IdRange, PlanRunsStore
from touchflow.store.writes import CustomersWrite, Erasure, EventsWrite, Finish, HandCancel, Removal

# Customers a page of facts holds: planning memory follows the page, not the store.
PAGE_SIZE = 20_000
EVERYONE: IdRange = ("", None)
# Called with how many rows of a write are done.
Written = Callable[[int], None]
# The states `touchflow retry` (``requeue``) brings back to pending.
REQUEUEABLE = (OutboxState.FAILED, OutboxState.EXPIRED, OutboxState.CANCELLED)
# The states a person may cancel (``cancel_by_hand``): not sent yet, and not being sent.
CANCELLABLE = (OutboxState.PENDING, OutboxState.RETRY)


class BulkWrite(Protocol):
    """Writes inside the one transaction ``FactsStore.bulk_write`` opened: each method
    does what the store's method of that name does, except that nothing is stored
    until the block ends. A row written by an earlier call of the block counts as
    stored for a later one (an event id written before is a duplicate or a conflict)."""

    async def upsert_customers(
        self,
        customers: Sequence[Customer],
        *,
        now: datetime | None = None,
        progress: Written | None = None,
    ) -> CustomersWrite: ...

    async def add_events_checked(
        self,
        events: Sequence[Event],
        *,
        now: datetime | None = None,
        progress: Written | None = None,
    ) -> EventsWrite:
        """As ``FactsStore.add_events_checked``: this call's events are all written or,
        if one is refused, none of them (the block goes on)."""
        ...


class FactsStore(Protocol):
    """Customers, events and suppressions: written by imports, read as the planner's facts."""

    def bulk_write(self) -> AbstractAsyncContextManager[BulkWrite]:
        """One transaction for many writes (an import file, a chunk at a time, so memory
        follows the chunk): everything written in the block is stored when it ends, and
        nothing if it raises; other connections see none of it until it ends. The
        transaction begins at the first write, so a block that writes nothing takes no
        lock."""
        ...

    async def upsert_customers(
        self,
        customers: Sequence[Customer],
        *,
        now: datetime | None = None,
        progress: Written | None = None,
    ) -> CustomersWrite:
        """Insert or replace (by id) every customer, in one transaction; how many were
        new, updated and unchanged. A new customer's ``created_at`` is ``now`` (None: not
        known); a replaced one keeps its own. An unchanged customer is not rewritten (no
        change recorded). ``progress`` is told how many are written."""
        ...

    async def add_events(
        self, events: Sequence[Event], *, now: datetime | None = None
    ) -> tuple[int, int]:
        """Store new events in one transaction: ``(inserted, already_present)`` by event id.
        A new event is recorded at its own ``recorded_at`` if it has one (a copy), else
        at ``now``, the writer's clock (None: not known). An id already stored keeps its
        first version, ``recorded_at`` included."""
        ...

    async def add_events_checked(
        self,
        events: Sequence[Event],
        *,
        now: datetime | None = None,
        progress: Written | None = None,
    ) -> EventsWrite:
        """Store new events if every customer exists and no stored id names a different
        event (``event_differences``: when it was recorded is not compared); else store
        none and say which. One transaction: what is checked is what is written. New
        events are recorded as ``add_events`` records them."""
        ...

    async def add_suppression(self, s: Suppression) -> None:
        """Record a suppression (email lower-cased); a repeat of (email, scope) keeps its
        first date, and its reason unless the repeat gives one."""
        ...

    async def customer_count(self) -> int: ...

    async def get_customer(self, customer_id: str) -> Customer | None: ...

    async def load_facts(
        self, *, customer_ids: Collection[str] | None = None, sent_since: datetime | None = None
    ) -> list[CustomerFacts]:
        """Every customer (or those named), ordered by id, with events sorted by (at, id),
        the suppression scopes on its email (case-insensitive, also kept hashed after an
        erasure) and on its phone number (``suppressed_phone``: E.164, as stored) and, with
        ``sent_since``, the sends that count towards caps and were due since then (they
        count at their due time: see ``touchflow.plan.candidates.apply_caps``). Read in
        one transaction."""
        ...

    def facts_pages(
        self,
        *,
        page_size: int = PAGE_SIZE,
        sent_since: datetime | None = None,
        ids: IdRange = EVERYONE,
    ) -> AsyncIterator[list[CustomerFacts]]:
        """Everyone's facts (or those with ids in ``(after, up_to]``) as ``load_facts()``
        gives them, ``page_size`` customers at a time, in id order: memory follows the
        page. Each page is consistent in itself; a change between pages is seen in
        ``pending_changes``."""
        ...

    async def facts_page(
        self, after: str, limit: int, sent_since: datetime | None = None, up_to: str | None = None
    ) -> list[CustomerFacts]:
        """The first ``limit`` customers with ids after ``after`` ("" for the very first)
        and up to ``up_to`` (None: no end), as ``facts_pages`` reads them."""
        ...

    async def known_since(self, customer_ids: Collection[str]) -> dict[str, KnownSince]:
        """When the store learnt these customers' facts (for `touchflow backtest`): for
        each of them with events or suppressions (the others are left out), every event's
        ``recorded_at`` and every suppression scope on their address with its
        ``created_at``, matched as ``load_facts`` matches them (case-insensitive, also
        kept hashed after an erasure; a scope kept both ways counts from the earlier)."""
        ...

    async def id_ranges(self, parts: int) -> list[IdRange]:
        """Up to ``parts`` id ranges holding about as many customers each, covering all,
        in id order."""
        ...


class OutboxStore(Protocol):
    """The outbox: one row per touchpoint key, planned, claimed, finished, taken back."""

    async def outbox_by_keys(self, keys: Collection[str]) -> dict[str, OutboxRow]:
        """The rows with these keys (unknown keys are left out)."""
        ...

    async def open_outbox(
        self, *, due_from: datetime, due_to: datetime, customer_ids: Collection[str] | None
    ) -> list[OutboxRow]:
        """Pending and retrying rows due in [due_from, due_to), of those customers (or all)."""
        ...

    async def sent_of_customers(
        self, customer_ids: Collection[str], *, due_from: datetime, due_to: datetime
    ) -> list[OutboxRow]:
        """Rows in state ``sent`` of those customers due in [due_from, due_to), whether
        they count for caps or not, ordered by customer id, due time, key."""
        ...

    async def open_outbox_of_other_rules(self, rule_ids: Collection[str]) -> list[OutboxRow]:
        """Pending and retrying rows of rules that are not (or no longer) in ``rule_ids``."""
        ...

    async def open_outbox_without_customer(self) -> list[OutboxRow]:
        """Pending and retrying rows whose customer is no longer in the store."""
        ...

    async def write_plan(
        self,
        inserts: Sequence[OutboxRow],
        updates: Sequence[tuple[OutboxRow, OutboxState]],
        *,
        now: datetime,
    ) -> tuple[int, int]:
        """``(inserted, updated)``, in one transaction. An insert whose key is already
        there changes nothing (the key is unique); an update ``(row, state read)`` is
        written only if the row is still in the state it was read in."""
        ...

    async def claim_due(
        self, *, owner: str, now: datetime, ttl: timedelta, limit: int
    ) -> list[OutboxRow]:
        """Claim up to ``limit`` ready rows (pending or retrying, next attempt at or before
        ``now``) for ``owner`` until ``now + ttl``, oldest attempt first. A claimed row is
        claimed by no one else until it is finished or taken back."""
        ...

    async def finish_claim(
        self,
        row: OutboxRow,
        *,
        owner: str,
        now: datetime,
        attempted: bool,
        suppress: Suppression | None = None,
    ) -> bool:
        """``finish_claims`` of one row."""
        ...

    async def finish_claims(
        self, items: Sequence[Finish], *, owner: str, now: datetime
    ) -> list[bool]:
        """Record the outcomes of claimed rows (new state, reason, times, Message-ID; an
        attempt counted if one was made; the claim cleared) and the suppressions they
        bring, in one transaction. Per item, whether it was recorded: only a row still
        claimed by ``owner`` is, and only then is its suppression written."""
        ...

    async def renew_claims(
        self, *, owner: str, keys: Collection[str], now: datetime, ttl: timedelta
    ) -> int:
        """Extend the claims ``owner`` holds on these keys to ``now + ttl``: the lease a
        live owner keeps on what it is still sending. How many it still held. A claim
        it forgot (its outcome lost with a server crash) is not renewed: it goes back
        when its lease ends."""
        ...

    async def reclaim(
        self,
        *,
        now: datetime,
        owners_gone: bool = False,
        me: str | None = None,
        owner: str | None = None,
    ) -> list[OutboxRow]:
        """Claims go back to retry, ready at ``now`` (reason ``claim_expired``); the rows
        are returned as they were (claimed). Which claims:

        - by default those whose lease ended by ``now`` (a live owner renews the leases
          of what it is sending: an ended one was forgotten, or its owner stalled);
        - ``owners_gone``: those too whose owner is known gone, whatever their lease: on
          a store one daemon holds alone (SQLite, behind its lock file) every owner but
          ``me``; on PostgreSQL an owner whose session no longer holds its instance lock
          (``touchflow.store.postgres.lock``), never ``me``;
        - ``owner``: that owner's, whatever their lease (a daemon giving back its own as
          it stops)."""
        ...

    async def next_ready_at(self) -> datetime | None:
        """The earliest next attempt of a pending or retrying row; None if there is none."""
        ...

    async def requeue(self, key: str, *, now: datetime, keep_for: timedelta) -> OutboxRow | None:
        """A row in a ``REQUEUEABLE`` state back to pending, ready at ``now``, expiring no
        sooner than ``now + keep_for`` (reason ``requeued``), and its customer marked
        changed; one transaction. The row as it is afterwards (unchanged if it was not
        requeueable); None if there is no such key."""
        ...

    async def cancel_by_hand(self, key: str, *, now: datetime, detail: str) -> HandCancel | None:
        """A row in a ``CANCELLABLE`` state to cancelled with reason ``cancelled_by_hand``
        (``touchflow.models.CANCELLED_BY_HAND``) and ``detail`` (who, where, when) as its
        last error, updated at ``now``; one transaction, written only if the row is still
        pending or retrying then, so a row a dispatcher claimed meanwhile is left as it is
        (it is being sent). The row before and after (the same if it was not cancellable);
        None if there is no such key. Re-planning keeps such a row; ``requeue`` lifts it."""
        ...

    async def outbox_counts(self) -> dict[OutboxState, int]:
        """Rows per state (states without rows left out)."""
        ...

    async def list_outbox(
        self,
        *,
        states: Collection[OutboxState] = (),
        customer_id: str | None = None,
        rule_id: str | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[OutboxRow]:
        """Rows (of these states, of this customer, of this rule), by due time then key
        (or newest first), up to ``limit``; ``after``: only those past this (due time,
        key), the next page of a keyset (in due-time order, not with ``newest_first``)."""
        ...


class RecordsStore(Protocol):
    """What operators list and delete (`touchflow customers|events|suppressions`, HTTP)."""

    async def list_customers(
        self, *, after: str = "", limit: int, email: str | None = None
    ) -> list[Customer]:
        """Up to ``limit`` customers with ids after ``after``, by id; ``email``: only those
        with this address (case-insensitive)."""
        ...

    async def customer_events(
        self, customer_id: str, *, limit: int | None = None
    ) -> tuple[list[Event], int]:
        """A customer's events, newest first (up to ``limit``), and how many there are."""
        ...

    async def list_suppressions(
        self, *, email: str | None = None, limit: int | None = None
    ) -> list[Suppression]:
        """Suppressions, newest first; ``email``: those of this address, also kept hashed
        after an erasure."""
        ...

    async def remove_suppressions(self, email: str, scopes: Collection[SuppressionScope]) -> int:
        """Lift the suppressions of ``email`` (plain or hashed) in these scopes; how many.
        The address's customers are marked changed: their held touchpoints are re-planned."""
        ...

    async def delete_customers(
        self, customer_ids: Sequence[str], suppressions: Sequence[Suppression] = ()
    ) -> Removal:
        """Delete these customers with every event and outbox row of theirs, their pending
        changes, and these suppressions (by address and scope), in one transaction: no
        trace is kept (unlike an erasure)."""
        ...

    async def existing_customer_ids(self, customer_ids: Sequence[str]) -> set[str]:
        """Which of these ids are customers in the store."""
        ...

    async def erase_customer(self, customer_id: str) -> Erasure | None:
        """Remove a customer, their events, unsent touchpoints and pending changes; keep
        the other rows without the address, and the suppressions of the address only
        hashed (``hashed_address``). One transaction; None if there is no such customer."""
        ...


class Store(
    FactsStore,
    OutboxStore,
    ChangesStore,
    PlanRunsStore,
    RecordsStore,
    StatsStore,
    CopyStore,
    Protocol,
):
    """The whole store, as ``open_store`` opens it: use it as an async context manager."""

    @property
    def location(self) -> str:
        """What ``open_store`` opens to reach this same store again (a worker process)."""
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
