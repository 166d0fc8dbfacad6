"""Work on everyone's customers in worker processes, one id range each.

A customer's touchpoints depend only on their own facts, so customers split
by id can be planned apart, and the planner is plain Python: one process uses
one core. A full plan of everyone (the preview, the benchmark) therefore
splits the customers into id ranges of about equal size and gives each range
to its own process (one per core, at most ``MAX_WORKERS``).

``work`` runs in the worker: it gets its id range and must be picklable (a
module-level function, or a ``functools.partial`` of one). It loads the
project from its files itself (rules hold compiled expressions, which do not
travel between processes) and reads the store on its own connection; only
what it returns comes back.

Work that makes no reference cycles (planning: see
``test_planning_pages_makes_no_cycles``) can say so (``acyclic``): it then
runs with the cyclic collector paused from start to end. In a worker nothing
else runs, so one pause there costs nothing, while a pause per page (see
``touchflow.collector``) ends with a collection that walks the pages still
alive: a tenth of a worker's time. Rendering makes cycles (Jinja's), so the
preview's work does not say so.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import TypeVar

from touchflow.collector import collector_paused
from touchflow.store import PAGE_SIZE, IdRange, Store

MAX_WORKERS = 4
T = TypeVar("T")


def workers_for(customers: int) -> int:
    """One process per core, but none for less than a page of customers."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS, math.ceil(customers / PAGE_SIZE)))


async def in_processes(
    store: Store,
    work: Callable[[IdRange], T],
    *,
    workers: int | None = None,
    acyclic: bool = False,
    here: Callable[[IdRange], Awaitable[T]] | None = None,
) -> list[T] | None:
    """``work`` of each id range, in id order, each range in its own process; None
    when one process is enough (``workers`` 1, a small store, or one core).

    ``acyclic``: ``work`` makes no reference cycles, so it runs with the collector
    paused throughout. ``here``: does what ``work`` does, in this process; given, the
    first range is done by it meanwhile, so this process works instead of waiting for
    the others (``workers`` processes in all, one of them this one).
    """
    if workers is None:
        workers = workers_for(await store.customer_count())
    ranges = await store.id_ranges(workers)
    if len(ranges) < 2:
        return None
    if acyclic:
        work = partial(_paused, work)
    loop = asyncio.get_running_loop()
    # spawn, not fork: the parent has threads (SQLite's), which fork does not copy.
    context = multiprocessing.get_context("spawn")
    elsewhere = ranges[1:] if here is not None else ranges
    with ProcessPoolExecutor(len(elsewhere), mp_context=context) as pool:
        started = [loop.run_in_executor(pool, work, ids) for ids in elsewhere]
        mine = [asyncio.ensure_future(here(ranges[0]))] if here is not None else []
        try:
            return list(await asyncio.gather(*mine, *started))
        except BaseException:
            await _stop(pool, mine)
            raise


async def _stop(pool: ProcessPoolExecutor, mine: Sequence[asyncio.Future[T]]) -> None:
    """One part failed (or all were cancelled): stop the others now, not when each has
    done its whole range. This process's part ends before its caller goes on to remove
    what it writes into; the workers are terminated (their results are not wanted)."""
    for part in mine:
        part.cancel()
    await asyncio.gather(*mine, return_exceptions=True)
    # ProcessPoolExecutor has no public way to stop running work before Python 3.14's
    # terminate_workers(); its processes are what that method terminates.
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _paused(work: Callable[[IdRange], T], ids: IdRange) -> T:
    """In a worker process: ``work`` with the collector paused from start to end."""
    with collector_paused():
        return work(ids)
