"""What a backtest counts: per rule and day, what the rules would have sent and what the
outbox shows was sent, and each key that differs. Parts add up (pages, id ranges,
worker processes), so only counts and differences travel, never a whole plan."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from touchflow.explain.backtest_replay import WouldSend
from touchflow.models import OutboxRow


class Difference(enum.StrEnum):
    """How one key differs between the replay and the outbox. Part of the JSON."""

    ADDED = "added"  # the rules would have sent it; the outbox shows no send
    DROPPED = "dropped"  # the outbox shows it sent; the rules would not have sent it
    MOVED = "moved"  # both, on different days
    LATE = "late"  # the rules plan it, but the store learnt of it too late to send


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyDifference:
    kind: Difference
    key: str
    rule: str
    customer: str
    due_at: datetime
    would_send_at: datetime | None  # None: the rules would not send it (or too late)
    sent_at: datetime | None  # None: the outbox shows no send


@dataclass(slots=True)
class Tally:
    """Counts of a part of the customers; ``add`` sums two parts."""

    customers: int = 0
    arrived: int = 0  # customers the store first had after the period began
    would: Counter[tuple[str, date]] = field(default_factory=Counter)  # (rule, day)
    sent: Counter[tuple[str, date]] = field(default_factory=Counter)
    both: Counter[str] = field(default_factory=Counter)  # keys in both, by rule
    differences: list[KeyDifference] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.customers += other.customers
        self.arrived += other.arrived
        self.would.update(other.would)
        self.sent.update(other.sent)
        self.both.update(other.both)
        self.differences += other.differences


def tally(
    customers: int, would: Iterable[WouldSend], sent: Iterable[OutboxRow], tz: tzinfo
) -> Tally:
    """Compare, by key, the replay's sends of some customers with the outbox's."""
    result = Tally(customers=customers)
    planned: dict[str, WouldSend] = {}
    for w in would:
        if w.late:
            result.differences.append(_difference(Difference.LATE, w, None))
        else:
            planned[w.key] = w
            result.would[w.rule_id, _day(w.send_at, tz)] += 1
    for row in sent:
        sent_at = row.sent_at or row.due_at
        result.sent[row.rule_id, _day(sent_at, tz)] += 1
        would_send = planned.pop(row.key) if row.key in planned else None
        if would_send is None:
            result.differences.append(_dropped(row, sent_at))
            continue
        result.both[row.rule_id] += 1
        if _day(would_send.send_at, tz) != _day(sent_at, tz):
            result.differences.append(_difference(Difference.MOVED, would_send, sent_at))
    result.differences += [_difference(Difference.ADDED, w, None) for w in planned.values()]
    return result


def _dropped(row: OutboxRow, sent_at: datetime) -> KeyDifference:
    return KeyDifference(
        kind=Difference.DROPPED, key=row.key, rule=row.rule_id, customer=row.customer_id,
        due_at=row.due_at, would_send_at=None, sent_at=sent_at,
    )  # fmt: skip


def _difference(kind: Difference, w: WouldSend, sent_at: datetime | None) -> KeyDifference:
    return KeyDifference(
        kind=kind, key=w.key, rule=w.rule_id, customer=w.customer_id, due_at=w.due_at,
        would_send_at=None if kind is Difference.LATE else w.send_at, sent_at=sent_at,
    )  # fmt: skip


def _day(instant: datetime, tz: tzinfo) -> date:
    return instant.astimezone(tz).date()
