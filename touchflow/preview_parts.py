"""`touchflow preview --format json` for many customers: id ranges in worker processes.

Rendering is most of a large preview's time and the planner is pure, so the
customers are split into id ranges of about equal size and each range is
planned and rendered by its own process (one per core, at most
``MAX_WORKERS``). Each process loads the project from its files itself (rules
hold compiled expressions, which do not travel between processes) and reads
the store on its own connection; only the JSON text of each element comes
back. The document is the same as from one process.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from touchflow import app
from touchflow.preview import Element, json_elements, load_for_preview
from touchflow.store.sqlite import PAGE_SIZE, IdRange, SqliteStore

MAX_WORKERS = 4


def workers_for(customers: int) -> int:
    """One process per core, but none for less than a page of customers."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS, math.ceil(customers / PAGE_SIZE)))


async def json_elements_in_processes(
    root: Path,
    store: SqliteStore,
    request: app.PlanRequest,
    *,
    show_all: bool,
    workers: int | None = None,
) -> list[Element] | None:
    """The elements of everyone's preview from worker processes; None when one
    process is enough (a small store, one core, or a single customer)."""
    if request.customer is not None:
        return None
    if workers is None:
        workers = workers_for(await store.customer_count())
    ranges = await store.id_ranges(workers)
    if len(ranges) < 2:
        return None
    loop = asyncio.get_running_loop()
    # spawn, not fork: the parent has threads (SQLite's), which fork does not copy.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(ranges), mp_context=context) as pool:
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(pool, _elements_of, str(root), request, show_all, ids)
                for ids in ranges
            )
        )
    return [element for part in parts for element in part]


def _elements_of(
    root: str, request: app.PlanRequest, show_all: bool, ids: IdRange
) -> list[Element]:
    """In a worker process: plan and render the customers of one id range."""
    return asyncio.run(_range(Path(root), request, show_all, ids))


async def _range(
    root: Path, request: app.PlanRequest, show_all: bool, ids: IdRange
) -> list[Element]:
    project = load_for_preview(root)
    async with await SqliteStore.open(project.config.store_file()) as store:
        pages = app.plan_pages(project, store, request, ids=ids)
        return await json_elements(project, pages, show_all=show_all)
