"""The SQLite store, on aiosqlite: one connection, WAL mode, one transaction per write.

Multi-statement work runs under one lock: a single connection has one
transaction at a time, and two coroutines must not interleave inside it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections import defaultdict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import date, datetime
from importlib import resources
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from touchflow.builders import builder, positional_builder
from touchflow.collector import collector_paused
from touchflow.errors import StoreError
from touchflow.models import (
    Category,
    Customer,
    CustomerFacts,
    Event,
    OutboxRow,
    SentRecord,
    Suppression,
    SuppressionScope,
)
from touchflow.store.outbox_sql import UPSERT_SUPPRESSION, suppression_params
from touchflow.store.sqlite_customers import HASHED, CustomerMethods, hashed_address
from touchflow.store.sqlite_outbox import OutboxMethods
from touchflow.store.sqlite_records import RecordMethods
from touchflow.store.sqlite_stats import StatsMethods
from touchflow.store.values import utc_text
from touchflow.store.writes import CustomersWrite

SCHEMA_VERSION = "3"
# Versions whose store this one upgrades in place: 1 → 2 only added tables (the schema's
# IF NOT EXISTS makes them); 2 → 3 adds customers.created_at (see _add_created_at).
_UPGRADES = "UPDATE meta SET value = '2' WHERE key = 'schema_version' AND value = '1';"
_VERSION = "SELECT value FROM meta WHERE key = 'schema_version'"
_TO_3 = (
    "ALTER TABLE customers ADD COLUMN created_at TEXT",
    "UPDATE meta SET value = '3' WHERE key = 'schema_version' AND value = '2'",
)
BUSY_TIMEOUT_MS = 5000
# Bound parameters per IN (...) list: well below SQLite's limit (999 before 3.32).
_CHUNK = 500

_CUSTOMER_COLUMNS = (
    "id, email, phone, first_name, last_name, timezone, locale, country, "
    "birthday, customer_since, consent_marketing, attributes"
)
# created_at is written once, by the insert: a replaced customer keeps the time it came.
_UPSERT_CUSTOMER = f"""
    INSERT INTO customers ({_CUSTOMER_COLUMNS}, birthday_md, since_md, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
        email = excluded.email, phone = excluded.phone,
        first_name = excluded.first_name, last_name = excluded.last_name,
        timezone = excluded.timezone, locale = excluded.locale, country = excluded.country,
        birthday = excluded.birthday, customer_since = excluded.customer_since,
        consent_marketing = excluded.consent_marketing, attributes = excluded.attributes,
        birthday_md = excluded.birthday_md, since_md = excluded.since_md
    -- An unchanged row is not rewritten, so a nightly re-import of everyone does not
    -- mark everyone changed for the daemon (the customers_updated trigger).
    WHERE (customers.email, customers.phone, customers.first_name, customers.last_name,
           customers.timezone, customers.locale, customers.country, customers.birthday,
           customers.customer_since, customers.consent_marketing, customers.attributes)
        IS NOT (excluded.email, excluded.phone, excluded.first_name, excluded.last_name,
           excluded.timezone, excluded.locale, excluded.country, excluded.birthday,
           excluded.customer_since, excluded.consent_marketing, excluded.attributes)
"""
_SELECT_CUSTOMERS = f"SELECT {_CUSTOMER_COLUMNS}, created_at FROM customers"
_INSERT_EVENT = """
    INSERT INTO events (id, type, customer_id, at, data) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (id) DO NOTHING
"""
_SELECT_EVENTS = "SELECT id, type, customer_id, at, data FROM events"
_EVENT_ORDER = " ORDER BY customer_id, at, id"
# Sends count towards caps at their due time (see touchflow.plan.candidates.apply_caps).
_SELECT_SENT = (
    "SELECT key, customer_id, category, due_at FROM outbox "
    "WHERE state = 'sent' AND counts_for_caps = 1 AND due_at >= ?"
)
# One page of customers and what belongs to them, by id range (the primary key
# and the events_customer_at / outbox_customer indexes): no IN lists, no scans.
PAGE_SIZE = 20_000
_SELECT_PAGE = f"{_SELECT_CUSTOMERS} WHERE id > ? ORDER BY id LIMIT ?"
_SELECT_PAGE_UP_TO = f"{_SELECT_CUSTOMERS} WHERE id > ? AND id <= ? ORDER BY id LIMIT ?"
_ID_AT = "SELECT id FROM customers ORDER BY id LIMIT 1 OFFSET ?"
# Customer ids (after, up to]: "" is before every id, None after every id.
IdRange = tuple[str, str | None]
EVERYONE: IdRange = ("", None)
_SELECT_PAGE_EVENTS = f"{_SELECT_EVENTS} WHERE customer_id BETWEEN ? AND ?{_EVENT_ORDER}"
_SELECT_PAGE_SUPPRESSIONS = (
    "SELECT s.email, s.scope FROM customers c JOIN suppressions s ON s.email = lower(c.email) "
    "WHERE c.id BETWEEN ? AND ? "
    # Erased customers' addresses, kept hashed: _facts matches them if one comes back.
    "UNION ALL SELECT email, scope FROM suppressions WHERE email >= ? AND email < ?"
)
# Every text that starts with HASHED, as a range the primary key index answers.
_HASHED_RANGE = (HASHED, HASHED[:-1] + chr(ord(HASHED[-1]) + 1))
_SELECT_PAGE_SENT = f"{_SELECT_SENT} AND customer_id BETWEEN ? AND ?"
# Rows a write sends to SQLite between two reports of its progress.
WRITE_CHUNK = 10_000
# Called with how many rows of a write are done.
Written = Callable[[int], None]
_SET_META = """
    INSERT INTO meta (key, value) VALUES (?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value
"""


class SqliteStore(OutboxMethods, CustomerMethods, RecordMethods, StatsMethods):
    """The ``Store`` on one SQLite file. Create it with ``await SqliteStore.open(path)``."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (creating it and its directory if needed) the store at ``path``."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        connection = aiosqlite.connect(path, isolation_level=None)
        try:
            db = await connection
        except sqlite3.Error as exc:
            await _join_worker(connection)
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        store = cls(db, path)
        try:
            await store._prepare()
        except BaseException:
            await db.close()
            raise
        return store

    async def _prepare(self) -> None:
        schema = resources.files(__package__).joinpath("schema.sql").read_text("utf-8")
        with self._errors("open"):
            # busy_timeout first, so the statements below wait for another process.
            # PRAGMAs return rows; fetching them finishes the statement before COMMIT.
            await self._db.execute_fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await self._db.execute_fetchall("PRAGMA foreign_keys = ON")
            await self._db.execute_fetchall("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a crashed
            # process loses nothing; a power cut may lose the last commits (a send
            # recorded there goes out again, with the same Message-ID).
            await self._db.execute_fetchall("PRAGMA synchronous = NORMAL")
            # One transaction: two processes opening a new file at once do not race.
            await self._db.executescript(f"BEGIN IMMEDIATE;\n{schema}\n{_UPGRADES}\nCOMMIT;")
        version = await self.get_meta("schema_version")
        if version == "2":
            version = await self._add_created_at()
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {version}; "
                f"this touchflow reads version {SCHEMA_VERSION}"
            )

    async def _add_created_at(self) -> str | None:
        """Upgrade 2 → 3. ADD COLUMN has no IF NOT EXISTS: the version is read again in
        the write transaction, as two processes may open an old file at once. Customers
        stored before keep NULL: when they came is not known, so nothing is left out."""
        async with self._transaction("upgrade") as db:
            rows = list(await db.execute_fetchall(_VERSION))
            if rows and rows[0][0] == "2":
                for statement in _TO_3:
                    await _run(db.execute(statement))
        return await self.get_meta("schema_version")

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- writes ----------------------------------------------------------------

    async def upsert_customers(
        self,
        customers: Sequence[Customer],
        *,
        now: datetime | None = None,
        progress: Written | None = None,
    ) -> CustomersWrite:
        came = utc_text(now)
        async with self._transaction("write customers to") as db:
            before = await _count_customers(db)
            changed = 0
            # Chunks, so a long import can show how far it got: still one transaction.
            for start in range(0, len(customers), WRITE_CHUNK):
                params = [_customer_params(c, came) for c in customers[start : start + WRITE_CHUNK]]
                async with db.executemany(_UPSERT_CUSTOMER, params) as cur:
                    # Rows inserted or updated; an unchanged row is skipped by the WHERE.
                    changed += max(cur.rowcount, 0)
                if progress is not None:
                    progress(start + len(params))
            new = await _count_customers(db) - before
        return CustomersWrite(new=new, updated=changed - new, unchanged=len(customers) - changed)

    async def add_events(self, events: Sequence[Event]) -> tuple[int, int]:
        async with self._transaction("write events to") as db:
            inserted = await insert_events(db, events)
        return inserted, len(events) - inserted

    async def add_suppression(self, s: Suppression) -> None:
        async with self._transaction("write a suppression to") as db:
            await _run(db.execute(UPSERT_SUPPRESSION, suppression_params(s)))

    async def set_meta(self, key: str, value: str) -> None:
        async with self._transaction("write meta to") as db:
            await _run(db.execute(_SET_META, (key, value)))

    # --- reads -----------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        rows = await self._fetch("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def customer_count(self) -> int:
        rows = await self._fetch("SELECT COUNT(*) FROM customers", ())
        return int(rows[0][0])

    async def get_customer(self, customer_id: str) -> Customer | None:
        rows = await self._fetch(f"{_SELECT_CUSTOMERS} WHERE id = ?", (customer_id,))
        return _customer(rows[0]) if rows else None

    async def load_facts(
        self, *, customer_ids: Collection[str] | None = None, sent_since: datetime | None = None
    ) -> list[CustomerFacts]:
        """Customers by id with their events and suppressions, in a few bulk queries.

        With ``sent_since``, also the sends due since then that count towards caps.
        """
        with collector_paused():  # rows and facts make no cycles: see touchflow.collector
            return await self._load_facts(customer_ids, sent_since)

    async def _load_facts(
        self, customer_ids: Collection[str] | None, sent_since: datetime | None
    ) -> list[CustomerFacts]:
        # One read transaction, so an import running meanwhile is seen whole or not at all.
        async with self._transaction("read facts from", begin="BEGIN") as db:
            if customer_ids is None:
                customers = await db.execute_fetchall(f"{_SELECT_CUSTOMERS} ORDER BY id")
                events = await db.execute_fetchall(_SELECT_EVENTS + _EVENT_ORDER)
                suppressions = await db.execute_fetchall("SELECT email, scope FROM suppressions")
            else:
                ids = sorted(set(customer_ids))
                customers = await _fetch_in(db, f"{_SELECT_CUSTOMERS} WHERE id IN", ids, "")
                where = f"{_SELECT_EVENTS} WHERE customer_id IN"
                events = await _fetch_in(db, where, ids, _EVENT_ORDER)
                emails = sorted({str(row[1]).lower() for row in customers if row[1]})
                emails += [hashed_address(email) for email in emails]  # erased, came back
                select = "SELECT email, scope FROM suppressions WHERE email IN"
                suppressions = await _fetch_in(db, select, emails, "")
            sent: list[Any] = []
            if sent_since is not None:
                if customer_ids is None:
                    sent = list(await db.execute_fetchall(_SELECT_SENT, (utc_text(sent_since),)))
                else:
                    sent = await _fetch_in(
                        db, f"{_SELECT_SENT} AND customer_id IN", ids, "", (utc_text(sent_since),)
                    )
        return _facts(customers, events, suppressions, sent)

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
        # The next page is read while the caller works on this one.
        after, up_to = ids
        coming = asyncio.ensure_future(self.facts_page(after, page_size, sent_since, up_to))
        try:
            while facts := await coming:
                after = facts[-1].customer.id
                page = self.facts_page(after, page_size, sent_since, up_to)
                coming = asyncio.ensure_future(page)
                yield facts
                del facts
        finally:
            if not coming.done():
                coming.cancel()
                with suppress(asyncio.CancelledError):
                    await coming

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
            return await asyncio.to_thread(_facts, *rows)

    async def _read_page(
        self, after: str, limit: int, sent_since: datetime | None, up_to: str | None
    ) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        async with self._transaction("read facts from", begin="BEGIN") as db:
            if up_to is None:
                customers = list(await db.execute_fetchall(_SELECT_PAGE, (after, limit)))
            else:
                page = (after, up_to, limit)
                customers = list(await db.execute_fetchall(_SELECT_PAGE_UP_TO, page))
            if not customers:
                return [], [], [], []
            span = (customers[0][0], customers[-1][0])
            events = list(await db.execute_fetchall(_SELECT_PAGE_EVENTS, span))
            by_address = (*span, *_HASHED_RANGE)
            suppressions = list(await db.execute_fetchall(_SELECT_PAGE_SUPPRESSIONS, by_address))
            sent: list[Any] = []
            if sent_since is not None:
                params = (utc_text(sent_since), *span)
                sent = list(await db.execute_fetchall(_SELECT_PAGE_SENT, params))
        return customers, events, suppressions, sent

    async def id_ranges(self, parts: int) -> list[IdRange]:
        """Up to ``parts`` id ranges holding about as many customers each, covering all."""
        total = await self.customer_count()
        parts = max(1, min(parts, total))
        bounds: list[str | None] = [""]
        for k in range(1, parts):  # the last id of part k
            offset = (total * k // parts - 1,)
            rows = await self._fetch(
                "SELECT id FROM customers ORDER BY id LIMIT 1 OFFSET ?", offset
            )
            bounds.append(rows[0][0])
        edges = [*bounds, None]
        return [(str(edges[i]), edges[i + 1]) for i in range(len(edges) - 1)]

    async def open_outbox_without_customer(self) -> list[OutboxRow]:
        """Pending and retrying rows whose customer is no longer in the store."""
        return await self._select(
            "state IN ('pending', 'retry') AND customer_id NOT IN (SELECT id FROM customers)", ()
        )

    # --- plumbing --------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"cannot {action} store {self.path}: {exc}") from exc

    @asynccontextmanager
    async def _transaction(
        self, action: str, *, begin: str = "BEGIN IMMEDIATE"
    ) -> AsyncIterator[aiosqlite.Connection]:
        # Writers take the write lock up front (IMMEDIATE): a deferred transaction
        # that later needs to write can fail with SQLITE_BUSY despite busy_timeout.
        async with self._lock:
            with self._errors(action):
                try:
                    await _run(self._db.execute(begin))
                    yield self._db
                    await _run(self._db.execute("COMMIT"))
                except BaseException:
                    # Also when cancelled on the way: BEGIN or COMMIT may have run in
                    # SQLite's thread or not, so "no transaction is active" is fine.
                    await self._rollback()
                    raise

    async def _rollback(self) -> None:
        try:
            await _run(self._db.execute("ROLLBACK"))
        except sqlite3.OperationalError as exc:
            if "no transaction is active" not in str(exc):
                raise

    async def _fetch(self, sql: str, params: tuple[Any, ...], *, action: str = "read") -> list[Any]:
        """One statement (its own transaction, if it writes) under the lock."""
        async with self._lock:
            with self._errors(action):
                return list(await self._db.execute_fetchall(sql, params))


async def _join_worker(connection: aiosqlite.Connection) -> None:
    # When connecting fails, aiosqlite stops its worker thread without waiting
    # for it; if the loop closes first (a CLI exiting on the error) the thread
    # dies printing a traceback. Wait for it, so the user sees only our message.
    thread = getattr(connection, "_thread", None)
    if isinstance(thread, threading.Thread) and thread.is_alive():
        await asyncio.to_thread(thread.join, 5)


async def _run(statement: Awaitable[aiosqlite.Cursor]) -> None:
    """Await a statement and close its cursor, so no statement stays open at COMMIT."""
    cursor = await statement
    await cursor.close()


async def _fetch_in(
    db: aiosqlite.Connection,
    select: str,
    values: Sequence[str],
    order: str,
    before: tuple[Any, ...] = (),
) -> list[Any]:
    """``select ... IN (values)`` in chunks; rows come back in the order of ``values``.

    ``before``: parameters of placeholders that come before the IN list.
    """
    rows: list[Any] = []
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows.extend(await db.execute_fetchall(f"{select} ({marks}){order}", (*before, *chunk)))
    return rows


def _facts(
    customer_rows: Iterable[Any],
    event_rows: Iterable[Any],
    suppression_rows: Iterable[Any],
    sent_rows: Iterable[Any] = (),
) -> list[CustomerFacts]:
    events, broken = _events_by_customer(event_rows)
    scopes: defaultdict[str, set[SuppressionScope]] = defaultdict(set)
    for email, scope in suppression_rows:
        scopes[email].add(SuppressionScope(scope))
    # Hash addresses only when an erasure left a hashed suppression to match.
    hashed = any(email.startswith(HASHED) for email in scopes)
    sent: defaultdict[str, list[SentRecord]] = defaultdict(list)
    for key, customer_id, category, due_at in sent_rows:
        record = SentRecord(
            key=key, customer_id=customer_id, category=Category(category),
            due_at=datetime.fromisoformat(due_at),
        )  # fmt: skip
        sent[customer_id].append(record)
    facts = []
    nothing: frozenset[SuppressionScope] = frozenset()
    for row in customer_rows:
        try:
            customer, unreadable = _customer(row), broken.get(row[0])
        except (ValueError, TypeError) as exc:  # see _events_by_customer
            customer, unreadable = Customer(id=row[0], email=row[1]), _unreadable(row, exc)
        suppressed = nothing
        if scopes and customer.email:  # mostly none: then no address is lower-cased
            email = customer.email.lower()
            suppressed = frozenset(scopes.get(email, ()))
            if hashed:
                suppressed |= scopes.get(hashed_address(email), set())
        facts.append(
            _new_facts(
                customer=customer,
                events=events.get(customer.id, ()),
                suppressed=suppressed,
                sent=tuple(sent[customer.id]) if customer.id in sent else (),
                unreadable=unreadable,
            )
        )
    return facts


def _events_by_customer(
    event_rows: Iterable[Any],
) -> tuple[dict[str, tuple[Event, ...]], dict[str, str]]:
    """Each customer's events, in the order of the rows (which come by customer), and
    for a customer with an event that cannot be read, what is wrong with it.

    A row written past touchflow's checks (by hand, by a bug: data that is not JSON, an
    `at` that is no date) must not stop everyone's plan: its customer is held instead
    (``CustomerFacts.unreadable``, see touchflow.plan.unplannable)."""
    events: dict[str, tuple[Event, ...]] = {}
    broken: dict[str, str] = {}
    for customer_id, group in groupby(event_rows, itemgetter(2)):
        rows = tuple(group)
        try:
            found = tuple(map(_event, rows))
        except (ValueError, TypeError):
            found = tuple(_readable_events(rows, customer_id, broken))
        # Rows of one customer come together; should they not, none is lost.
        events[customer_id] = events[customer_id] + found if customer_id in events else found
    return events, broken


def _readable_events(
    rows: Sequence[Any], customer_id: str, broken: dict[str, str]
) -> Iterator[Event]:
    for row in rows:
        try:
            yield _event(row)
        except (ValueError, TypeError) as exc:
            broken.setdefault(customer_id, _unreadable(row, exc, what=f"event {row[0]}"))


def _unreadable(row: Sequence[Any], exc: Exception, *, what: str = "") -> str:
    """Words for a stored row that could not be read, naming the row and the fault."""
    what = what or f"customer {row[0]}"
    return f"{what} is stored unreadable ({type(exc).__name__}: {str(exc)[:120]})"


# --- values <-> columns ---------------------------------------------------------


def _json_default(value: object) -> str:
    # Declared date/datetime values go back to ISO text; readers parse by declared type.
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be stored as JSON")


def _to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


# raw_decode skips json.loads' two whitespace regex scans per call: this runs once
# per stored customer and event on every load_facts, and we wrote the text compact.
_decode = json.JSONDecoder().raw_decode


def _from_json(text: str) -> dict[str, Any]:
    if text == "{}":
        return {}
    value = _decode(text)[0]  # a fresh dict: we store only JSON objects
    return value if type(value) is dict else dict(value)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _month_day(day: date | None) -> str | None:
    return f"{day.month:02d}-{day.day:02d}" if day else None


def _customer_params(c: Customer, created_at: str | None) -> tuple[Any, ...]:
    return (
        c.id, c.email, c.phone, c.first_name, c.last_name, c.timezone, c.locale, c.country,
        _iso(c.birthday), _iso(c.customer_since), int(c.consent_marketing),
        _to_json(dict(c.attributes)), _month_day(c.birthday), _month_day(c.customer_since),
        created_at,
    )  # fmt: skip


# Millions of these are built per full plan: see touchflow.builders. Customers and
# events take their fields positionally, in the order of their columns (the golden
# plan test compares them with what the constructors build).
_new_customer = positional_builder(Customer)
_new_event = positional_builder(Event)
_new_facts = builder(CustomerFacts)


def _customer(row: Sequence[Any]) -> Customer:
    (id_, email, phone, first, last, zone, locale, country, born, since, consent, attrs, came) = row
    return _new_customer(
        id_, email, phone, first, last, zone, locale, country,
        date.fromisoformat(born) if born else None,  # birthday
        date.fromisoformat(since) if since else None,  # customer_since
        bool(consent),  # consent_marketing
        _from_json(attrs),  # attributes
        datetime.fromisoformat(came) if came else None,  # created_at
    )  # fmt: skip


def event_params(e: Event) -> tuple[Any, ...]:
    """An event as its columns: (id, type, customer_id, at, data)."""
    return (e.id, e.type, e.customer_id, utc_text(e.at), _to_json(dict(e.data)))


async def insert_events(db: aiosqlite.Connection, events: Sequence[Event]) -> int:
    """Insert events (ids already stored are skipped) inside the caller's transaction."""
    return await insert_event_rows(db, [event_params(e) for e in events])


async def insert_event_rows(
    db: aiosqlite.Connection, rows: Sequence[tuple[Any, ...]], progress: Written | None = None
) -> int:
    """``insert_events`` for events already turned into ``event_params``."""
    inserted = 0
    for start in range(0, len(rows), WRITE_CHUNK):
        chunk = rows[start : start + WRITE_CHUNK]
        async with db.executemany(_INSERT_EVENT, chunk) as cur:
            # For executemany, rowcount sums the rows each statement inserted.
            inserted += max(cur.rowcount, 0)
        if progress is not None:
            progress(start + len(chunk))
    return inserted


async def _count_customers(db: aiosqlite.Connection) -> int:
    rows = await db.execute_fetchall("SELECT count(*) FROM customers")
    return int(next(iter(rows))[0])


def _event(row: Sequence[Any]) -> Event:
    id_, type_, customer_id, at, data = row
    return _new_event(id_, type_, customer_id, datetime.fromisoformat(at), _from_json(data))
