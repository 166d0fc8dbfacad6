"""`touchflow preview --format json`: rendered a page at a time, merged from sorted runs.

Each page's elements go to a sorted run, a file in a private temporary directory
(removed on success, on failure and on Ctrl-C), and the document is the merge of
the runs: no process holds more than a page of elements, however many customers.

Rendering is most of a large preview's time and the planner is pure, so with
more than a page of customers each id range is planned and rendered by its own
process (``touchflow.plan.id_ranges``), which writes its own runs; only their
names come back. The document is the same as from one process.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from functools import partial
from pathlib import Path
from typing import TextIO

from touchflow.plan.from_store import PlanRequest, plan_pages
from touchflow.plan.id_ranges import in_processes, workers_for
from touchflow.plan.preview import json_runs, load_for_preview, write_runs
from touchflow.project import Project
from touchflow.store import PAGE_SIZE, IdRange, Store, open_store


async def write_json(
    project: Project,
    store: Store,
    request: PlanRequest,
    out: TextIO,
    *,
    show_all: bool,
    workers: int | None = None,
) -> None:
    """The preview as a JSON document on ``out``, from one process per id range
    where that pays (``workers``: how many; None, one per core for a large store)."""
    with tempfile.TemporaryDirectory(prefix="touchflow-preview-") as tmp:
        directory = Path(tmp)
        runs = await json_runs_in_processes(
            project, store, request, directory, show_all=show_all, workers=workers
        )
        if runs is None:
            pages = plan_pages(project, store, request)
            runs = await json_runs(project, pages, directory, show_all=show_all)
        write_runs(runs, out)


async def json_runs_in_processes(
    project: Project,
    store: Store,
    request: PlanRequest,
    directory: Path,
    *,
    show_all: bool,
    workers: int | None = None,
) -> list[Path] | None:
    """Everyone's preview as sorted runs in ``directory``, written by worker
    processes and this one (the first id range: it would otherwise only wait, and a
    process fewer is a loaded project fewer); None when one process is enough (a
    small store, one core, or a single customer)."""
    if request.customer is not None:
        return None
    if workers is None:
        workers = workers_for(await store.customer_count())
    # A page shared out among the processes and one share more: each process pays its
    # own interpreter and project too (about 75 MiB), so together they hold about what
    # one would (docs/performance.md: 0.99x of --jobs 1 at 100k, against 1.24x with
    # pages of PAGE_SIZE / workers, for the same time within noise).
    page_size = math.ceil(PAGE_SIZE / (workers + 1))
    work = partial(_runs_of, str(project.config.root), request, show_all, str(directory), page_size)
    here = partial(_runs_of_range, project, store, request, show_all, directory, page_size)
    parts = await in_processes(store, work, workers=workers, here=here)
    if parts is None:
        return None
    return [Path(run) for part in parts for run in part]


def _runs_of(
    root: str, request: PlanRequest, show_all: bool, directory: str, page_size: int, ids: IdRange
) -> list[str]:
    """In a worker process: plan and render the customers of one id range into runs."""
    return asyncio.run(_range(Path(root), request, show_all, Path(directory), page_size, ids))


async def _range(
    root: Path,
    request: PlanRequest,
    show_all: bool,
    directory: Path,
    page_size: int,
    ids: IdRange,
) -> list[str]:
    project = load_for_preview(root)
    async with await open_store(project.config.store_location()) as store:
        return await _runs_of_range(project, store, request, show_all, directory, page_size, ids)


async def _runs_of_range(
    project: Project,
    store: Store,
    request: PlanRequest,
    show_all: bool,
    directory: Path,
    page_size: int,
    ids: IdRange,
) -> list[str]:
    """Plan and render the customers of one id range into runs (in whichever process)."""
    pages = plan_pages(project, store, request, page_size=page_size, ids=ids)
    return [str(run) for run in await json_runs(project, pages, directory, show_all=show_all)]
