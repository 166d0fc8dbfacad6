"""Plan into the outbox: run the planner for a window and write what changed.

Idempotent by construction: planning the same facts twice writes nothing the
second time; a sent key is never touched; a moved occurrence moves its
pending row; a cancelled one is marked cancelled (see ``outbox.plan_writes``).

Here everyone is planned a page at a time, each page read and written in one
planning turn. The daemon's full plan is shared out in id ranges among its planners
and its worker processes instead (``touchflow.send.plan_share``), which write their
pages through ``write_desired``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from touchflow import logs
from touchflow.collector import collector_paused
from touchflow.models import CustomerFacts, HoldReason, OutboxRow, OutboxState, Window
from touchflow.plan import unplannable
from touchflow.plan.candidates import sends_counted_from
from touchflow.plan.planner import Planner
from touchflow.project import Project
from touchflow.send.outbox import (
    NOT_PLANNED,
    RULE_REMOVED,
    PlanWrites,
    desired_rows,
    plan_writes,
)
from touchflow.store import EVERYONE, PAGE_SIZE, IdRange, Store

_INVALID = HoldReason.INVALID_DATA.value
_UNPLANNABLE = f":{unplannable.OCCURRENCE}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRun:
    window: Window
    customers: int
    touchpoints: int
    inserted: int
    updated: int
    transitions: int  # state changes written (each one logged, none kept: a plan may make millions)
    seconds: float


async def plan_into_outbox(
    project: Project,
    store: Store,
    *,
    window: Window,
    now: datetime,
    customer_ids: Collection[str] | None = None,
    page_size: int = PAGE_SIZE,
    turn: AbstractAsyncContextManager[Any] | None = None,
) -> PlanRun:
    """Plan ``window`` for those customers (or everyone) and bring the outbox in line.

    Everyone is planned a page of customers at a time (``Store.facts_page``),
    so memory follows the page size, not the number of customers. ``turn`` (the
    daemon's planning lock) is held for each page, not for the whole run. (The daemon's
    full plan is shared out among its planners instead: ``touchflow.send.plan_share``.)
    """
    started = time.perf_counter()
    config = project.config
    sent_since = sends_counted_from(window.start, config)
    planner = Planner(project.rules, window=window, config=config, now=now)
    run = PlanState(window=window, now=now, sent_since=sent_since, page_size=page_size)
    if customer_ids is not None:
        facts = await store.load_facts(customer_ids=customer_ids, sent_since=sent_since)
        await _plan_page(project, store, planner, facts, customer_ids, run)
    else:
        async with turn or nullcontext():
            await close_orphans(project, store, run.now, run.total)
        await _plan_range(project, store, planner, run, EVERYONE, turn)
    run.total.warn_missed()
    return run.total.plan_run(window, seconds=time.perf_counter() - started)


async def _plan_range(
    project: Project,
    store: Store,
    planner: Planner,
    run: PlanState,
    ids: IdRange,
    turn: AbstractAsyncContextManager[Any] | None,
) -> None:
    """Plan the customers of ``ids`` here, a page at a time.

    The cyclic collector is paused while a page is read, planned and written (see
    ``touchflow.collector``): that makes no cycles
    (``test_writing_a_full_plan_makes_no_cycles``), and reference counting frees each
    page. Paused only around each call, it ran a young collection after every pause
    over everything the page had made (194 at 100k, a quarter of the plan's time).
    Paused for the whole plan it was no faster (1.03, 100k customers, 30 days), and
    what else runs meanwhile in this process (the sends) would keep its cycles for the
    plan's whole duration (90 s at 1M customers, 30 days); one page's is about 2 s.
    """
    after, up_to = ids
    while True:
        # A page is read and written in one turn: between turns a changed customer
        # is re-planned at once, and a later page reads what that changed.
        async with turn or nullcontext():
            with collector_paused():
                page = await store.facts_page(after, run.page_size, run.sent_since, up_to)
                if not page:
                    break
                ids_of_page = [f.customer.id for f in page]
                await _plan_page(project, store, planner, page, ids_of_page, run)
        after = page[-1].customer.id


@dataclass(slots=True)
class _Totals:
    customers: int = 0
    touchpoints: int = 0
    inserted: int = 0
    updated: int = 0
    transitions: int = 0
    missed: int = 0
    first_missed: datetime | None = None
    last_missed: datetime | None = None

    def add(self, writes: PlanWrites, inserted: int, updated: int) -> None:
        self.inserted += inserted
        self.updated += updated
        self.transitions += len(writes.transitions)
        for t in writes.transitions:
            logs.transition(t)
            if t.old is None and t.row.state is OutboxState.EXPIRED:
                # Came due and expired with no plan that had it: the daemon was stopped
                # longer than it lives (or its event was recorded that late). What expired
                # before its customer existed never gets here: the planner leaves it out.
                self.missed += 1
                due = t.row.due_at
                self.first_missed = min(due, self.first_missed or due)
                self.last_missed = max(due, self.last_missed or due)

    def plan_run(self, window: Window, *, seconds: float) -> PlanRun:
        """The totals as the run's result."""
        return PlanRun(
            window=window,
            customers=self.customers,
            touchpoints=self.touchpoints,
            inserted=self.inserted,
            updated=self.updated,
            transitions=self.transitions,
            seconds=seconds,
        )

    def warn_missed(self) -> None:
        """One line for every touchpoint this run found expired (each is an INFO line)."""
        if not self.missed:
            return
        assert self.first_missed is not None and self.last_missed is not None
        first, last = self.first_missed.isoformat(), self.last_missed.isoformat()
        logs.log.warning(
            "%d touchpoint(s) expired while no daemon ran (or their events came late), "
            "the first due %s, the last %s; `touchflow outbox --state expired` lists them",
            self.missed, _utc(self.first_missed), _utc(self.last_missed),
            extra={"tf": {"event": "missed", "count": self.missed, "first_due": first,
                          "last_due": last}},
        )  # fmt: skip


@dataclass(slots=True, kw_only=True)
class PlanState:
    """One plan's window, clock, paging, and its totals so far."""

    window: Window
    now: datetime
    sent_since: datetime
    page_size: int
    total: _Totals = field(default_factory=lambda: _Totals())


def _utc(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M UTC")


async def _plan_page(
    project: Project,
    store: Store,
    planner: Planner,
    facts: list[CustomerFacts],
    customer_ids: Collection[str],
    run: PlanState,
) -> None:
    """Plan these customers and write what changed for them."""
    # The planner is pure: in a worker thread it leaves the event loop free to send.
    planned = await asyncio.to_thread(planner.plan, facts)
    desired = desired_rows(planned, {rule.id: rule.policies.caps for rule in project.rules})
    await write_desired(store, desired, customer_ids, run, customers=len(facts))


async def write_desired(
    store: Store,
    desired: list[OutboxRow],
    customer_ids: Collection[str],
    run: PlanState,
    *,
    customers: int,
) -> None:
    """Bring these customers' outbox rows in line with ``desired`` (one per touchpoint);
    ``customers``: how many of them are in the store, and were planned."""
    existing = await store.outbox_by_keys([row.key for row in desired])
    rows = await store.open_outbox(
        due_from=run.window.start, due_to=run.window.end, customer_ids=customer_ids
    )
    planned_keys = {r.key for r in desired}
    detail = "no longer in the plan: the rule, the customer or their events changed"
    vanished = [(row, NOT_PLANNED, detail) for row in rows if row.key not in planned_keys]
    if vanished:
        vanished = _held_for_invalid_data(vanished, desired)
    writes = plan_writes(desired, existing, vanished, now=run.now)
    inserted, updated = await store.write_plan(writes.inserts, writes.updates, now=run.now)
    run.total.customers += customers
    run.total.touchpoints += len(desired)
    run.total.add(writes, inserted, updated)


def _held_for_invalid_data(
    vanished: list[tuple[OutboxRow, str, str]], desired: list[OutboxRow]
) -> list[tuple[OutboxRow, str, str]]:
    """A customer who could not be planned (touchflow.plan.unplannable) keeps their open rows
    held for that reason, not "no longer in the plan": the fix is their data."""
    failed = {
        r.customer_id: r.last_error or ""
        for r in desired
        if r.reason == _INVALID and r.key.endswith(_UNPLANNABLE)
    }
    if not failed:
        return vanished
    return [
        (row, _INVALID, failed[row.customer_id]) if row.customer_id in failed else (row, why, text)
        for row, why, text in vanished
    ]


async def close_orphans(project: Project, store: Store, now: datetime, total: _Totals) -> None:
    """Cancel open rows whose rule left rules/ or whose customer left the store."""
    rule_ids = [rule.id for rule in project.rules]
    vanished = [
        (row, RULE_REMOVED, f"rule {row.rule_id!r} is no longer in rules/")
        for row in await store.open_outbox_of_other_rules(rule_ids)
    ]
    seen = {row.key for row, _, _ in vanished}
    detail = "the customer is no longer in the store"
    vanished += [
        (row, NOT_PLANNED, detail)
        for row in await store.open_outbox_without_customer()
        if row.key not in seen
    ]
    if vanished:
        writes = plan_writes([], {}, vanished, now=now)
        inserted, updated = await store.write_plan(writes.inserts, writes.updates, now=now)
        total.add(writes, inserted, updated)
