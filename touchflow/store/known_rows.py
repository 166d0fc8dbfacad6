"""Rows of events and suppressions made into ``KnownSince``: when the store learnt each
of a customer's facts (``FactsStore.known_since``, for `touchflow backtest`).

Shared by every store: each reads the rows its own way and gives how its instants
are read. A customer's suppressions are matched as the planner's facts match them
(``facts_rows``): their address lower-cased, and hashed as an erasure keeps it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from touchflow.models import KnownSince, SuppressionScope
from touchflow.store.writes import hashed_address

Instant = Callable[[Any], datetime]


def addresses(email_rows: Iterable[Any]) -> list[str]:
    """The suppression addresses to look up for rows ``(customer id, email)``: each email
    lower-cased, and hashed (an erased address that came back), sorted."""
    plain = {str(email).lower() for _, email in email_rows if email}
    return sorted(plain | {hashed_address(email) for email in plain})


def known_since(
    email_rows: Iterable[Any],
    event_rows: Iterable[Any],
    suppression_rows: Iterable[Any],
    *,
    instant: Instant,
    phone_rows: Iterable[Any] = (),
) -> dict[str, KnownSince]:
    """Each customer's ``KnownSince`` from rows ``(customer id, email)``, ``(customer id,
    event id, recorded_at)`` and ``(address, scope, created_at)``, and ``(customer id,
    phone)`` for the scopes on their number; customers with neither events nor
    suppressions are left out. A scope suppressed both plainly and hashed counts from the
    earlier time (not known, if either is not). (The suppression rows are looked up by
    ``addresses`` of the email and phone rows together.)"""
    events: defaultdict[str, dict[str, datetime | None]] = defaultdict(dict)
    for customer_id, event_id, recorded_at in event_rows:
        events[customer_id][event_id] = None if recorded_at is None else instant(recorded_at)
    by_address: defaultdict[str, dict[SuppressionScope, datetime | None]] = defaultdict(dict)
    for email, scope, created_at in suppression_rows:
        by_address[email][SuppressionScope(scope)] = (
            None if created_at is None else instant(created_at)
        )
    suppressions = _by_customer(email_rows, by_address)
    by_phone = _by_customer(phone_rows, by_address)
    return {
        customer_id: KnownSince(
            events=events.get(customer_id, {}),
            suppressions=suppressions.get(customer_id, {}),
            phone_suppressions=by_phone.get(customer_id, {}),
        )
        for customer_id in sorted(events.keys() | suppressions.keys() | by_phone.keys())
    }


def _by_customer(
    address_rows: Iterable[Any], by_address: dict[str, dict[SuppressionScope, datetime | None]]
) -> dict[str, dict[SuppressionScope, datetime | None]]:
    """The scopes (with their times) on each customer's address, plain or hashed."""
    found: dict[str, dict[SuppressionScope, datetime | None]] = {}
    for customer_id, address in address_rows:
        if address and by_address:
            plain = str(address).lower()  # a phone number (E.164) has no case
            scopes = _earliest(by_address.get(plain, {}), by_address.get(hashed_address(plain), {}))
            if scopes:
                found[customer_id] = scopes
    return found


def _earliest(
    first: dict[SuppressionScope, datetime | None], second: dict[SuppressionScope, datetime | None]
) -> dict[SuppressionScope, datetime | None]:
    scopes = dict(first)
    for scope, since in second.items():
        if scope not in scopes:
            scopes[scope] = since
        else:
            other = scopes[scope]
            scopes[scope] = None if since is None or other is None else min(since, other)
    return scopes
