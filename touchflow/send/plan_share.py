"""A full plan shared out in id ranges: starting one, and this process's part in it
(``touchflow.store.planning``).

The daemon that plans starts a run (``share_out``): the store's customers in id
ranges, and the run's window, clock and what its plans follow (``RunSpec``: the
project's ``plan_digest``, its files but the sections of the machine). Every daemon of
the store whose project plans alike, the planner included, takes part
(``take_part``): its lanes (``touchflow.send.plan_lanes``) take ranges until none is
left. A lane is a worker process (``daemon.plan_workers``, one per core) that reads and
plans while this process writes; with one lane, this process does both.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Coroutine
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from touchflow import logs
from touchflow.models import Window
from touchflow.plan.candidates import sends_counted_from
from touchflow.plan.id_ranges import workers_for
from touchflow.project import Project
from touchflow.send.plan_lanes import Lane, Part, RunSpec, WorkerLane, take
from touchflow.send.plan_workers import PlanWorkerError, WorkerProcess
from touchflow.send.replan import PlanRun, PlanState, close_orphans
from touchflow.store import EVERYONE, PAGE_SIZE, Store

_MOST_RANGES = 64


async def share_out(store: Store, spec: RunSpec, *, page_size: int = PAGE_SIZE) -> int:
    """Start ``spec``'s run: the customers in ranges of about two pages each."""
    parts = math.ceil(await store.customer_count() / (2 * page_size))
    ranges = await store.id_ranges(min(parts, _MOST_RANGES)) if parts > 1 else []
    await store.start_plan_run(spec.id, ranges or [EVERYONE])
    return len(ranges or [EVERYONE])


async def plan_everyone(
    project: Project,
    store: Store,
    *,
    window: Window,
    now: datetime,
    clock: Callable[[], datetime],
    page_size: int = PAGE_SIZE,
    me: str = "this process",
) -> PlanRun:
    """Everyone, shared out among this process's lanes alone (a daemon's full plan is
    ``DaemonPlanning.ahead``, which others join): the outbox ``plan_into_outbox`` writes."""
    started = time.perf_counter()
    spec = RunSpec.new(window=window, now=now, digest=project.plan_digest)
    sent_since = sends_counted_from(window.start, project.config)
    state = PlanState(window=window, now=now, sent_since=sent_since, page_size=page_size)
    await close_orphans(project, store, now, state.total)
    await share_out(store, spec, page_size=page_size)
    part = Part(project=project, store=store, spec=spec, me=me, turn=nullcontext(),
                state=state, clock=clock)  # fmt: skip
    try:
        await take_part(part, await lanes_for(project, store))
    finally:
        await store.end_plan_run(spec.id)
    state.total.warn_missed()
    return state.total.plan_run(window, seconds=time.perf_counter() - started)


async def lanes_for(project: Project, store: Store) -> int:
    """``daemon.plan_workers``; auto: one per core, none for a page of customers or less."""
    wanted = project.config.daemon.plan_workers
    return wanted if wanted is not None else workers_for(await store.customer_count())


async def take_part(part: Part, lanes: int) -> None:
    """Plan ranges of the run, ``lanes`` at a time, until none is left to take (no
    worker process is started when there is none to begin with)."""
    first = await take(part)
    if first is None:
        return
    if lanes < 2 or part.project.digest is None:  # None: files changed while it loaded
        await Lane(part).take_ranges(first)
        return
    workers: list[WorkerProcess] = []
    try:
        for _ in range(lanes):
            workers.append(await WorkerProcess.start())
    except (OSError, PlanWorkerError) as exc:
        logs.log.warning("cannot start the planning workers (%s); planning here", exc)
    try:
        if workers:
            pids = " ".join(str(w.process.pid) for w in workers)
            logs.log.info("planning in %d worker processes (pids %s)", len(workers), pids)
        lanes_ = [WorkerLane(part, w) for w in workers]
        await _all_or_none([lane.take_ranges(first if i == 0 else None)
                            for i, lane in enumerate(lanes_)])  # fmt: skip
        # What a failed worker left, or all if none started.
        await Lane(part).take_ranges(None if lanes_ else first)
    finally:
        await asyncio.gather(*(w.aclose() for w in workers))


async def _all_or_none(lanes: list[Coroutine[Any, Any, None]]) -> None:
    """Run the lanes together; when one fails, the others are stopped, then it is raised."""
    tasks = [asyncio.ensure_future(lane) for lane in lanes]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
