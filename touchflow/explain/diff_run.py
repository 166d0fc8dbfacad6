"""`touchflow diff`'s pass over the store: every customer planned by both versions.

One read of each page of facts, two planners (the base's and the working tree's), and
only the differences kept (``touchflow.plan.diff.compare``), with the outbox rows of the
keys that changed (``touchflow.explain.diff_outbox``). A large store is shared out in id
ranges among worker processes, as the preview does (``touchflow.plan.id_ranges``): each
loads both versions from their files, reads its range on its own connection, and sends
back only its differences.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from touchflow.explain.diff_outbox import RowEffect, row_effects
from touchflow.models import CustomerFacts, PlannedTouchpoint, Window
from touchflow.plan.candidates import sends_counted_from
from touchflow.plan.diff import KeyChange, Renderings, compare
from touchflow.plan.id_ranges import in_processes
from touchflow.plan.planner import Planner
from touchflow.project import Project, load_project_checked
from touchflow.store import EVERYONE, PAGE_SIZE, IdRange, Store, open_store


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffRequest:
    window: Window
    now: datetime
    customer: str | None = None
    rule: str | None = None
    category: str | None = None

    def wants(self, tp: PlannedTouchpoint) -> bool:
        return self.rule in (None, tp.rule_id) and self.category in (None, tp.category.value)


@dataclass(slots=True, kw_only=True)
class PartDiff:
    """The differences of some customers (a page, an id range, everyone)."""

    customers: int = 0
    base_touchpoints: int = 0
    new_touchpoints: int = 0
    changes: list[KeyChange] = field(default_factory=list)
    effects: list[RowEffect] = field(default_factory=list)

    def add(self, other: PartDiff) -> None:
        self.customers += other.customers
        self.base_touchpoints += other.base_touchpoints
        self.new_touchpoints += other.new_touchpoints
        self.changes += other.changes
        self.effects += other.effects


@dataclass(frozen=True, slots=True)
class Versions:
    """The two versions, each with its planner, and how their templates compare."""

    base: Project
    new: Project
    base_planner: Planner
    new_planner: Planner
    renderings: Renderings
    sent_since: datetime

    @classmethod
    def of(cls, base: Project, new: Project, window: Window) -> Versions:
        sent_since = min(sends_counted_from(window.start, p.config) for p in (base, new))
        return cls(
            base, new,
            Planner(base.rules, window=window, config=base.config),
            Planner(new.rules, window=window, config=new.config),
            Renderings.of(base, new),
            sent_since,
        )  # fmt: skip


async def diff_everyone(
    versions: Versions, store: Store, request: DiffRequest, *, workers: int | None = None
) -> PartDiff:
    """The differences of every customer (or the one asked for), in processes where that pays."""
    if request.customer is None:
        work = partial(_part_in_worker, _root(versions.base), _root(versions.new), request)
        here = partial(_diff_range, versions, store, request)
        parts = await in_processes(store, work, workers=workers, here=here)
        if parts is not None:
            total = PartDiff()
            for part in parts:
                total.add(part)
            return total
        return await _diff_range(versions, store, request, EVERYONE)
    facts = await store.load_facts(customer_ids=[request.customer], sent_since=versions.sent_since)
    return await diff_page(versions, store, request, facts)


def _root(project: Project) -> str:
    return str(project.config.root)


def _part_in_worker(base_root: str, new_root: str, request: DiffRequest, ids: IdRange) -> PartDiff:
    """In a worker process: load both versions, and diff the customers of one id range."""
    return asyncio.run(_part(Path(base_root), Path(new_root), request, ids))


async def _part(base_root: Path, new_root: Path, request: DiffRequest, ids: IdRange) -> PartDiff:
    base, new = load_project_checked(base_root), load_project_checked(new_root)
    versions = Versions.of(base, new, request.window)
    async with await open_store(new.config.store_location()) as store:
        return await _diff_range(versions, store, request, ids)


async def _diff_range(
    versions: Versions, store: Store, request: DiffRequest, ids: IdRange
) -> PartDiff:
    total = PartDiff()
    pages = store.facts_pages(page_size=PAGE_SIZE, ids=ids, sent_since=versions.sent_since)
    async for page in pages:
        total.add(await diff_page(versions, store, request, page))
    return total


async def diff_page(
    versions: Versions, store: Store, request: DiffRequest, page: list[CustomerFacts]
) -> PartDiff:
    """One page of customers planned by both versions; their differences and outbox rows."""
    # The planners are pure: in a worker thread they leave a daemon's event loop free.
    old, new, changes = await asyncio.to_thread(_plan_both, versions, request, page)
    planned = {tp.key: tp for tp in new} if changes else {}
    effects = await row_effects(
        store, versions.new, changes, planned, window=request.window, now=request.now
    )
    return PartDiff(
        customers=len(page),
        base_touchpoints=len(old),
        new_touchpoints=len(new),
        changes=changes,
        effects=effects,
    )


def _plan_both(
    versions: Versions, request: DiffRequest, page: list[CustomerFacts]
) -> tuple[list[PlannedTouchpoint], list[PlannedTouchpoint], list[KeyChange]]:
    old = [tp for tp in versions.base_planner.plan(page) if request.wants(tp)]
    new = [tp for tp in versions.new_planner.plan(page) if request.wants(tp)]
    return old, new, compare(old, new, versions.renderings)
