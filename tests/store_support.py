"""Builders and look-ups that let store tests (the contract suite, the SQLite file's own)
read like the behaviour they pin; everything goes through the ``Store`` boundary."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from touchflow.channels import Delivery, Outcome
from touchflow.config.daemon import DaemonSettings
from touchflow.models import Category, Event, OutboxRow, OutboxState, Suppression
from touchflow.send.outbox import after_delivery
from touchflow.store import Store

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)
PENDING, RETRY, CLAIMED = OutboxState.PENDING, OutboxState.RETRY, OutboxState.CLAIMED
SENT, FAILED, CANCELLED = OutboxState.SENT, OutboxState.FAILED, OutboxState.CANCELLED
EXPIRED, SUPPRESSED = OutboxState.EXPIRED, OutboxState.SUPPRESSED


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def minutes(n: float) -> datetime:
    """``NOW`` plus (or minus) ``n`` minutes."""
    return NOW + timedelta(minutes=n)


def event(id_: str, customer: str, when: str, **data: object) -> Event:
    return Event(id=id_, type="order", customer_id=customer, at=at(when), data=data)


def outbox_row(
    key: str,
    state: OutboxState = PENDING,
    *,
    due: datetime = NOW,
    next_attempt: datetime | None = None,
    customer_id: str = "c1",
    rule_id: str = "reminder",
    **kw: object,
) -> OutboxRow:
    values: dict[str, object] = {
        "key": key,
        "rule_id": rule_id,
        "customer_id": customer_id,
        "category": Category.TRANSACTIONAL,
        "counts_for_caps": True,
        "state": state,
        "due_at": due,
        "expires_at": due + timedelta(days=1),
        "next_attempt_at": next_attempt or due,
        "to": "ana@example.com",
    }
    values.update(kw)
    return OutboxRow(**values)  # type: ignore[arg-type]


def promo(key: str, **kw: object) -> OutboxRow:
    return outbox_row(key, rule_id="promo", category=Category.MARKETING, **kw)


def after(
    row: OutboxRow, outcome: Outcome, *, at: datetime, detail: str = ""
) -> tuple[OutboxRow, Suppression | None]:
    """What the dispatcher records for ``row`` after this delivery outcome."""
    return after_delivery(
        row,
        Delivery(outcome=outcome, detail=detail),
        now=at,
        message_id=f"<{row.key}@example.com>",
        settings=DaemonSettings(),
        jitter=0.0,
    )


def delivered(row: OutboxRow, outcome: Outcome, *, at: datetime, detail: str = "") -> OutboxRow:
    return after(row, outcome, at=at, detail=detail)[0]


async def one(store: Store, key: str) -> OutboxRow:
    return (await store.outbox_by_keys([key]))[key]


async def states(store: Store) -> dict[str, OutboxState]:
    return {r.key: r.state for r in await store.list_outbox()}


async def claim_one(store: Store, row: OutboxRow, *, owner: str = "w") -> OutboxRow:
    await store.write_plan([row], [], now=minutes(-60))
    (claimed,) = await store.claim_due(owner=owner, now=NOW, ttl=TTL, limit=1)
    return claimed


async def send_at(
    store: Store, row: OutboxRow, at: datetime, *, late: timedelta = timedelta(0)
) -> None:
    """Plan ``row`` due at ``at``, claim it ``late`` after that and record it as sent."""
    await store.write_plan([dataclasses.replace(row, due_at=at, next_attempt_at=at)], [], now=at)
    at += late
    (claimed,) = await store.claim_due(owner="w", now=at, ttl=TTL, limit=10)
    assert claimed.key == row.key
    assert await store.finish_claim(
        delivered(claimed, Outcome.SENT, at=at), owner="w", now=at, attempted=True
    )


async def forget_changes(store: Store) -> None:
    """Drop every change recorded so far, as the daemon does once it has planned them."""
    await store.drop_changes((await store.pending_changes(limit=1_000))[0])
