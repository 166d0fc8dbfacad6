"""`touchflow preview --format json` for many customers: id ranges in worker processes.

Rendering is most of a large preview's time and the planner is pure, so each
id range is planned and rendered by its own process (``touchflow.plan.id_ranges``);
only the JSON text of each element comes back. The document is the same as
from one process.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

from touchflow.plan.from_store import PlanRequest, plan_pages
from touchflow.plan.id_ranges import in_processes
from touchflow.plan.preview import Element, json_elements, load_for_preview
from touchflow.store import IdRange, Store, open_store


async def json_elements_in_processes(
    root: Path,
    store: Store,
    request: PlanRequest,
    *,
    show_all: bool,
    workers: int | None = None,
) -> list[Element] | None:
    """The elements of everyone's preview from worker processes; None when one
    process is enough (a small store, one core, or a single customer)."""
    if request.customer is not None:
        return None
    work = partial(_elements_of, str(root), request, show_all)
    parts = await in_processes(store, work, workers=workers)
    if parts is None:
        return None
    return [element for part in parts for element in part]


def _elements_of(root: str, request: PlanRequest, show_all: bool, ids: IdRange) -> list[Element]:
    """In a worker process: plan and render the customers of one id range."""
    return asyncio.run(_range(Path(root), request, show_all, ids))


async def _range(root: Path, request: PlanRequest, show_all: bool, ids: IdRange) -> list[Element]:
    project = load_for_preview(root)
    async with await open_store(project.config.store_file()) as store:
        pages = plan_pages(project, store, request, ids=ids)
        return await json_elements(project, pages, show_all=show_all)
