"""Rows of customers, events, suppressions and sends made into the planner's facts.

Pure: it runs in a worker thread while the event loop keeps sending. A row that
cannot be read holds its customer (``CustomerFacts.unreadable``) instead of
stopping everyone's plan. Shared by every store: each gives the ``Readers`` that
make its columns (text in SQLite, typed values in PostgreSQL) into values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from touchflow.builders import builder
from touchflow.models import Category, Customer, CustomerFacts, Event, SentRecord, SuppressionScope
from touchflow.store.writes import HASHED, hashed_address

new_facts = builder(CustomerFacts)  # millions per full plan: see touchflow.builders


@dataclass(frozen=True, slots=True, kw_only=True)
class Readers:
    """How one store's rows become values: a customer row, an event row, an instant."""

    customer: Callable[[Sequence[Any]], Customer]
    event: Callable[[Sequence[Any]], Event]
    instant: Callable[[Any], datetime]


def facts(
    customer_rows: Iterable[Any],
    event_rows: Iterable[Any],
    suppression_rows: Iterable[Any],
    sent_rows: Iterable[Any] = (),
    *,
    read: Readers,
) -> list[CustomerFacts]:
    """Each customer row's facts, in the order of the rows."""
    events, broken = _events_by_customer(event_rows, read.event)
    scopes = _scopes_by_address(suppression_rows)
    # Hash addresses only when an erasure left a hashed suppression to match.
    hashed = any(email.startswith(HASHED) for email in scopes)
    sent = _sent_by_customer(sent_rows, read.instant)
    customer = read.customer
    found = []
    nothing: frozenset[SuppressionScope] = frozenset()
    for row in customer_rows:
        try:
            who, unreadable = customer(row), broken.get(row[0])
        except (ValueError, TypeError) as exc:  # see _events_by_customer
            who, unreadable = Customer(id=row[0], email=row[1]), _unreadable(row, exc)
        suppressed = by_phone = nothing
        if scopes:  # mostly none: then no address is lower-cased
            if who.email:
                suppressed = _scopes_of(scopes, who.email.lower(), hashed)
            if who.phone:  # E.164: no case to fold
                by_phone = _scopes_of(scopes, who.phone, hashed)
        found.append(
            new_facts(
                customer=who,
                events=events.get(who.id, ()),
                suppressed=suppressed,
                sent=tuple(sent[who.id]) if who.id in sent else (),
                unreadable=unreadable,
                suppressed_phone=by_phone,
            )
        )
    return found


def _scopes_of(
    scopes: dict[str, set[SuppressionScope]], address: str, hashed: bool
) -> frozenset[SuppressionScope]:
    """The scopes on one address (an e-mail lower-cased, or a phone number), and on its
    hash where an erasure left one."""
    found = frozenset(scopes.get(address, ()))
    return found | scopes.get(hashed_address(address), set()) if hashed else found


def _scopes_by_address(suppression_rows: Iterable[Any]) -> dict[str, set[SuppressionScope]]:
    scopes: defaultdict[str, set[SuppressionScope]] = defaultdict(set)
    for email, scope in suppression_rows:
        scopes[email].add(SuppressionScope(scope))
    return scopes


def _sent_by_customer(
    sent_rows: Iterable[Any], instant: Callable[[Any], datetime]
) -> dict[str, list[SentRecord]]:
    sent: defaultdict[str, list[SentRecord]] = defaultdict(list)
    for key, customer_id, category, due_at, channel in sent_rows:
        record = SentRecord(
            key=key, customer_id=customer_id, category=Category(category),
            due_at=instant(due_at), channel=channel,
        )  # fmt: skip
        sent[customer_id].append(record)
    return sent


def _events_by_customer(
    event_rows: Iterable[Any], event: Callable[[Sequence[Any]], Event]
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
            found = tuple(map(event, rows))
        except (ValueError, TypeError):
            found = tuple(_readable_events(rows, customer_id, broken, event))
        # Rows of one customer come together; should they not, none is lost.
        events[customer_id] = events[customer_id] + found if customer_id in events else found
    return events, broken


def _readable_events(
    rows: Sequence[Any],
    customer_id: str,
    broken: dict[str, str],
    event: Callable[[Sequence[Any]], Event],
) -> Iterator[Event]:
    for row in rows:
        try:
            yield event(row)
        except (ValueError, TypeError) as exc:
            broken.setdefault(customer_id, _unreadable(row, exc, what=f"event {row[0]}"))


def _unreadable(row: Sequence[Any], exc: Exception, *, what: str = "") -> str:
    """Words for a stored row that could not be read, naming the row and the fault."""
    what = what or f"customer {row[0]}"
    return f"{what} is stored unreadable ({type(exc).__name__}: {str(exc)[:120]})"
