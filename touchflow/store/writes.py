"""What a write to the store reports, and how a stored event is told from a new one.

Shared by every store and by both ways events come in (an import file, the HTTP
interface), so "the same event" means one thing everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


def event_differences(stored: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[str, ...]:
    """How two events given as their columns ``(id, type, customer_id, at, data)`` differ:
    nothing if they are the same event (data equal as JSON: a client retrying may
    serialise its keys in another order)."""
    if stored[1:4] == new[1:4] and stored[4] == new[4]:
        return ()  # the common case, a repeat, without parsing JSON
    found = [
        f"{name}: recorded {_shown(old)}, here {_shown(now)}"
        for name, old, now in zip(("type", "customer", "at"), stored[1:4], new[1:4], strict=True)
        if old != now
    ]
    found.extend(_data_differences(json.loads(stored[4]), json.loads(new[4])))
    return tuple(found)


def _data_differences(old: dict[str, Any], now: dict[str, Any]) -> list[str]:
    keys = [
        key for key in sorted(old.keys() | now.keys()) if old.get(key, ...) != now.get(key, ...)
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
