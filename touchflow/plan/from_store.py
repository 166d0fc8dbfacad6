"""Planning from a store: the plan of everyone, a page of customers at a time, or of one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from touchflow.models import PlannedTouchpoint, Window
from touchflow.plan.candidates import sends_counted_from
from touchflow.plan.planner import TIME_ORDER, Planner
from touchflow.project import Project
from touchflow.store import EVERYONE, PAGE_SIZE, IdRange, Store


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRequest:
    window: Window
    customer: str | None = None
    rule: str | None = None


async def plan_from_store(
    project: Project, store: Store, request: PlanRequest
) -> list[PlannedTouchpoint]:
    planned = [tp async for page in plan_pages(project, store, request) for tp in page]
    planned.sort(key=TIME_ORDER)
    return planned


async def plan_pages(
    project: Project,
    store: Store,
    request: PlanRequest,
    *,
    page_size: int = PAGE_SIZE,
    ids: IdRange = EVERYONE,
) -> AsyncIterator[list[PlannedTouchpoint]]:
    """The plan a page of customers at a time (one page for one customer), each page in
    time order; a page's facts can be let go once the caller is done with it."""
    # Plan with every rule (caps compete across rules), then keep the one asked for.
    config = project.config
    planner = Planner(project.rules, window=request.window, config=config)
    # Caps count what was sent in the period before the window, as the daemon's plans do.
    sent_since = sends_counted_from(request.window.start, config)
    # The planner is pure: in a worker thread it leaves a daemon's event loop free to send.
    if request.customer:
        facts = await store.load_facts(customer_ids=[request.customer], sent_since=sent_since)
        planned = await asyncio.to_thread(planner.plan, facts)
        yield [tp for tp in planned if request.rule in (None, tp.rule_id)]
        return
    async for page in store.facts_pages(page_size=page_size, ids=ids, sent_since=sent_since):
        planned = await asyncio.to_thread(planner.plan, page)
        yield [tp for tp in planned if request.rule in (None, tp.rule_id)]
