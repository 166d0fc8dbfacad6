"""Plan into the outbox: run the planner for a window and write what changed.

Idempotent by construction: planning the same facts twice writes nothing the
second time; a sent key is never touched; a moved occurrence moves its
pending row; a cancelled one is marked cancelled (see ``outbox.plan_writes``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from touchflow import logs
from touchflow.models import OutboxRow, Window
from touchflow.outbox import NOT_PLANNED, RULE_REMOVED, Transition, desired_rows, plan_writes
from touchflow.planner import plan
from touchflow.project import Project
from touchflow.store.sqlite import SqliteStore


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRun:
    window: Window
    customers: int
    touchpoints: int
    inserted: int
    updated: int
    transitions: list[Transition]
    seconds: float


async def plan_into_outbox(
    project: Project,
    store: SqliteStore,
    *,
    window: Window,
    now: datetime,
    customer_ids: Collection[str] | None = None,
) -> PlanRun:
    """Plan ``window`` for those customers (or everyone) and bring the outbox in line."""
    started = time.perf_counter()
    config = project.config
    longest_cap = max((cap.per for cap in config.caps), default=timedelta(0))
    facts = await store.load_facts(customer_ids=customer_ids, sent_since=window.start - longest_cap)
    # The planner is pure: in a worker thread it leaves the event loop free to send.
    planned = await asyncio.to_thread(plan, project.rules, facts, window=window, config=config)
    desired = desired_rows(planned, {rule.id: rule.policies.caps for rule in project.rules})
    existing = await store.outbox_by_keys([row.key for row in desired])
    vanished = await _vanished(project, store, window, customer_ids, {r.key for r in desired})
    writes = plan_writes(desired, existing, vanished, now=now)
    inserted, updated = await store.write_plan(writes.inserts, writes.updates, now=now)
    for t in writes.transitions:
        logs.transition(t)
    return PlanRun(
        window=window,
        customers=len(facts),
        touchpoints=len(planned),
        inserted=inserted,
        updated=updated,
        transitions=writes.transitions,
        seconds=time.perf_counter() - started,
    )


async def _vanished(
    project: Project,
    store: SqliteStore,
    window: Window,
    customer_ids: Collection[str] | None,
    planned_keys: set[str],
) -> list[tuple[OutboxRow, str, str]]:
    """Open rows the plan no longer has: their rule is gone, or their facts changed."""
    gone: dict[str, tuple[OutboxRow, str, str]] = {}
    if customer_ids is None:
        rule_ids = [rule.id for rule in project.rules]
        for row in await store.open_outbox_of_other_rules(rule_ids):
            detail = f"rule {row.rule_id!r} is no longer in rules/"
            gone[row.key] = (row, RULE_REMOVED, detail)
    rows = await store.open_outbox(
        due_from=window.start, due_to=window.end, customer_ids=customer_ids
    )
    for row in rows:
        if row.key not in planned_keys and row.key not in gone:
            detail = "no longer in the plan: the rule, the customer or their events changed"
            gone[row.key] = (row, NOT_PLANNED, detail)
    return list(gone.values())
