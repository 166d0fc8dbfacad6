"""A forecast of everyone in a store: planned a page at a time, counted, never rendered.

Each page of customers is planned with every rule (caps compete across rules, as in
the preview and the daemon) and only its counts are kept (``Tally``), so memory
follows a page. With more than a page of customers each id range is planned in its
own process (``touchflow.plan.id_ranges``, as the preview does), this one taking the
first; only the ranges' tallies come back, and they are added up. A forecast of named
customers (`--customer`) reads only theirs, by id, and plans them here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path

from touchflow.config.delivery import ChannelKind
from touchflow.config.project_config import ProjectConfig
from touchflow.models import CustomerFacts
from touchflow.plan.candidates import sends_counted_from
from touchflow.plan.forecast import ForecastRequest, Tally, UnknownCustomers
from touchflow.plan.forecast_summary import Forecast, summarize
from touchflow.plan.id_ranges import in_processes
from touchflow.plan.planner import Planner
from touchflow.project import Project, load_project_checked
from touchflow.store import EVERYONE, PAGE_SIZE, IdRange, Store, open_store

Progress = Callable[[int], None]  # called with the customers of each page planned here


def rate_limit(config: ProjectConfig) -> float | None:
    """The relay's rate (messages a second) the daemon keeps to; None: no limit configured
    (or no SMTP relay at all: a Maildir takes what it gets)."""
    smtp = config.delivery.smtp
    if config.delivery.channel is not ChannelKind.SMTP or smtp is None:
        return None
    return smtp.rate


async def forecast(
    project: Project,
    store: Store,
    request: ForecastRequest,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Forecast:
    """Everyone's forecast, or that of the request's ``customers`` alone (read by id,
    in this process); ``workers``: processes (None: one per core for a large store, as
    the preview; 1: all in this process)."""
    tally = await tally_everyone(project, store, request, workers=workers, progress=progress)
    rules = [(rule.id, rule.category) for rule in project.rules]
    return summarize(tally, request, rules, rate_limit(project.config))


async def tally_everyone(
    project: Project,
    store: Store,
    request: ForecastRequest,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Tally:
    if request.customers:
        return await tally_customers(project, store, request)
    work = partial(_tally_of, str(project.config.root), request)
    here = partial(tally_range, project, store, request, progress=progress)
    parts = await in_processes(store, work, workers=workers, acyclic=True, here=here)
    if parts is None:
        return await tally_range(project, store, request, EVERYONE, progress=progress)
    total = Tally()
    for part in parts:
        total.merge(part)
    return total


async def tally_range(
    project: Project,
    store: Store,
    request: ForecastRequest,
    ids: IdRange,
    *,
    progress: Progress | None = None,
) -> Tally:
    """The counts of the customers of one id range, a page at a time (in any process)."""
    planner, sent_since = _planner(project, request)
    tally = Tally()
    async for page in store.facts_pages(page_size=PAGE_SIZE, ids=ids, sent_since=sent_since):
        # Pure work: in a worker thread it leaves a daemon's event loop free to send.
        await asyncio.to_thread(_plan_and_count, planner, tally, request, page)
        if progress is not None:
            progress(len(page))
    return tally


async def tally_customers(project: Project, store: Store, request: ForecastRequest) -> Tally:
    """The counts of the customers ``request`` names, read by id (no scan of everyone);
    ``UnknownCustomers`` if the store lacks any of them."""
    planner, sent_since = _planner(project, request)
    facts = await store.load_facts(customer_ids=request.customers, sent_since=sent_since)
    missing = set(request.customers) - {f.customer.id for f in facts}
    if missing:
        raise UnknownCustomers(sorted(missing))
    tally = Tally()
    await asyncio.to_thread(_plan_and_count, planner, tally, request, facts)
    return tally


def _planner(project: Project, request: ForecastRequest) -> tuple[Planner, datetime]:
    """The planner of the request's window, and since when sends count towards caps:
    the period before the window, as in the daemon's plans."""
    config = project.config
    planner = Planner(project.rules, window=request.window, config=config)
    return planner, sends_counted_from(request.window.start, config)


def _plan_and_count(
    planner: Planner, tally: Tally, request: ForecastRequest, page: list[CustomerFacts]
) -> None:
    """Plan a page and count it; its touchpoints go when this returns."""
    tally.add_page(request, len(page), planner.plan(page))


def _tally_of(root: str, request: ForecastRequest, ids: IdRange) -> Tally:
    """In a worker process: the counts of one id range."""
    return asyncio.run(_range(Path(root), request, ids))


async def _range(root: Path, request: ForecastRequest, ids: IdRange) -> Tally:
    project = load_project_checked(root)
    async with await open_store(project.config.store_location()) as store:
        return await tally_range(project, store, request, ids)
