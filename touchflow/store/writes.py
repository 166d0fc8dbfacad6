"""What writes to the store carry and report, and the rules every store applies alike.

Shared by every store and by both ways events come in (an import file, the HTTP
interface), so "the same event" means one thing everywhere, and an erased address
is kept in one form whichever store kept it.

Erasure keeps the suppressions of the erased address, but only as
``sha256:<hex>`` of the lower-cased address: the address itself is gone, and a
customer who later comes back with it is still suppressed (facts match both
forms). A hash of an address can be confirmed by whoever knows the address, so
this is pseudonymisation, not anonymity.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from touchflow.models import OutboxRow, Suppression

HASHED = "sha256:"  # prefix of an erased address in the suppressions
_SHOWN_KEYS = 3  # data keys named in a difference; the rest are counted
_SHOWN_CHARS = 40


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomersWrite:
    """The outcome of ``upsert_customers``, by customer id."""

    new: int
    updated: int
    unchanged: int  # the same as stored: not rewritten, nothing to re-plan

    @property
    def total(self) -> int:
        return self.new + self.updated + self.unchanged


@dataclass(frozen=True, slots=True, kw_only=True)
class EventsWrite:
    """The outcome of ``add_events_checked``: nothing is written unless both
    ``conflicts`` and ``unknown_customers`` are empty."""

    inserted: frozenset[str]  # ids stored now
    duplicates: frozenset[str]  # ids stored before, for the same event
    conflicts: tuple[str, ...]  # ids stored before for a different event
    unknown_customers: tuple[str, ...]
    # For each conflicting id: what differs, as ``event_differences`` says it.
    differences: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish:
    """The outcome of one claimed row: its new state (reason, times, Message-ID...)."""

    row: OutboxRow
    attempted: bool  # a delivery was tried: counts as an attempt
    suppress: Suppression | None = None  # an address to suppress with it (a 5.1.x bounce)


@dataclass(frozen=True, slots=True, kw_only=True)
class HandCancel:
    """What ``cancel_by_hand`` found and left: the row as it was when the store looked
    (under the write lock) and as it is now (the same row when nothing changed)."""

    before: OutboxRow
    after: OutboxRow

    @property
    def cancelled(self) -> bool:
        """This call cancelled it (it was pending or retrying)."""
        return self.after.held_by_hand and not self.before.held_by_hand


@dataclass(frozen=True, slots=True, kw_only=True)
class Erasure:
    """What ``erase_customer`` took away and what it kept without the address."""

    events: int
    touchpoints_deleted: int
    touchpoints_kept: int  # sent, failed, expired or in flight; their address removed
    suppressions_hashed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Removal:
    """What ``delete_customers`` took away."""

    customers: int
    events: int
    touchpoints: int
    suppressions: int


def hashed_address(email: str) -> str:
    """How an erased address is kept in the suppressions."""
    return HASHED + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def event_differences(stored: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[str, ...]:
    """How two events given as their columns ``(id, type, customer_id, at, data)`` differ:
    nothing if they are the same event (data equal as JSON: a client retrying may
    serialise its keys in another order). A column after those (``recorded_at``) is
    not compared: a repeat recorded later is the same event."""
    if stored[1:4] == new[1:4] and stored[4] == new[4]:
        return ()  # the common case, a repeat, without parsing JSON
    found = [
        f"{name}: recorded {_shown(old)}, here {_shown(now)}"
        for name, old, now in zip(("type", "customer", "at"), stored[1:4], new[1:4], strict=True)
        if old != now
    ]
    found.extend(_data_differences(stored[4], new[4]))
    return tuple(found)


def _exact(text: str) -> Any:
    """JSON with its numbers as decimals, compared by value: a store may keep a number in
    another form than it was written in (PostgreSQL's jsonb gives ``1.1e+25`` back as
    ``11000000000000000000000000``), and that is the same event's data."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def _data_differences(old_text: str, now_text: str) -> list[str]:
    exact_old, exact_now = _exact(old_text), _exact(now_text)
    old, now = json.loads(old_text), json.loads(now_text)  # as shown
    keys = [
        key
        for key in sorted(old.keys() | now.keys())
        if exact_old.get(key, ...) != exact_now.get(key, ...)
    ]
    found = [
        f"data.{key}: recorded {_shown(old.get(key, ...))}, here {_shown(now.get(key, ...))}"
        for key in keys[:_SHOWN_KEYS]
    ]
    if len(keys) > _SHOWN_KEYS:
        more = len(keys) - _SHOWN_KEYS
        found.append(f"{more} more data key{'s' if more != 1 else ''}")
    return found


def _shown(value: Any) -> str:
    if value is ...:
        return "(none)"
    if isinstance(value, str) and value.endswith("Z") and value[:4].isdigit():
        try:  # a stored instant: without its microseconds, when there are none
            instant = datetime.fromisoformat(value)
            return instant.isoformat().replace("+00:00", "Z")
        except ValueError:
            pass
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
