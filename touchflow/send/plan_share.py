"""A full plan shared out in id ranges: this process's part (``touchflow.store.planning``).

The daemon that plans starts a run (``share_out``): the store's customers in id
ranges, and the run's window, clock and what its plans follow (``RunSpec``: the
project's ``plan_digest``, its files but the sections of the machine). Every daemon of
the store whose project plans the same, the planner included, takes part
(``take_part``): each of its lanes takes a range, plans it a page at a time and writes
each page under the planning turn, recording how far it got; then it takes the next,
until none is left. A lane is a worker process (``daemon.plan_workers``, one per core:
``touchflow.send.plan_worker``) that reads and plans while this process writes; with
one lane, this process does both. A worker that fails leaves its lane to this process.

A page is read outside the turn. Under the turn, before writing it, the lane makes
sure the range is still its own (else another planner has it, or the run was replaced:
the lane stops), and leaves out the customers with a change recorded after the store's
``changes_done`` read before the page (planned again from newer facts meanwhile, or
about to be) and those no longer in the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import pickle
import time
import uuid
from collections.abc import Callable, Collection, Coroutine
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from touchflow import logs
from touchflow.collector import collector_paused
from touchflow.models import HoldReason, OutboxRow, Window
from touchflow.plan import unplannable
from touchflow.plan.candidates import sends_counted_from
from touchflow.plan.id_ranges import workers_for
from touchflow.plan.planner import Planner
from touchflow.project import Project
from touchflow.send.outbox import desired_rows
from touchflow.send.plan_worker import CUSTOMER_ID, Assignment, PlannedPage, unpack_rows
from touchflow.send.plan_workers import PlanWorkerError, WorkerProcess
from touchflow.send.replan import PlanRun, PlanState, close_orphans, write_desired
from touchflow.store import EVERYONE, PAGE_SIZE, RangeTaken, Store

LEASE = timedelta(minutes=15)  # a range's lease, renewed at every page (> a worker's timeout)
RUN_META = "plan_run"  # meta: the run under way (``RunSpec.text``), "" when none
_MOST_RANGES = 64
_INVALID = HoldReason.INVALID_DATA.value
_UNPLANNABLE = f":{unplannable.OCCURRENCE}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """A shared full plan: what every planner of it plans with."""

    id: str
    window: Window
    now: datetime
    digest: str | None  # the project's ``plan_digest``: only a project planning alike helps

    @classmethod
    def new(cls, *, window: Window, now: datetime, digest: str | None) -> RunSpec:
        return cls(id=uuid.uuid4().hex, window=window, now=now, digest=digest)

    def text(self) -> str:
        w = self.window
        return json.dumps({"id": self.id, "start": w.start.isoformat(), "end": w.end.isoformat(),
                           "now": self.now.isoformat(), "digest": self.digest})  # fmt: skip

    @classmethod
    def read(cls, text: str | None) -> RunSpec | None:
        """The run ``text`` names; None for none (or a text no touchflow wrote)."""
        if not text:
            return None
        try:
            d = json.loads(text)
            window = Window(start=_instant(d["start"]), end=_instant(d["end"]))
            return cls(id=str(d["id"]), window=window, now=_instant(d["now"]), digest=d["digest"])
        except (ValueError, KeyError, TypeError):
            return None


def _instant(text: object) -> datetime:
    return datetime.fromisoformat(str(text))


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """This process's part in a run: whose it is, and what it writes with."""

    project: Project
    store: Store
    spec: RunSpec
    me: str  # the owner of the ranges it takes (the daemon's instance id)
    turn: AbstractAsyncContextManager[Any]  # the planning turn, per page written
    state: PlanState  # totals, summed over this process's lanes
    clock: Callable[[], datetime]


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
    """Plan ranges of the run, ``lanes`` at a time, until none is left to take."""
    if lanes < 2 or part.project.digest is None:  # None: files changed while it loaded
        await _Lane(part).take_ranges()
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
        await _all_or_none([_WorkerLane(part, w).take_ranges() for w in workers])
        await _Lane(part).take_ranges()  # what a failed worker left, or all if none started
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


class _Lane:
    """Takes ranges and plans them here, a page at a time."""

    def __init__(self, part: Part) -> None:
        self.part = part
        self.page_size = part.state.page_size
        self._planner: Planner | None = None  # made when first needed: a worker lane may not

    async def take_ranges(self) -> None:
        while await self.take_one():
            pass

    async def take_one(self) -> bool:
        """Take a range and plan it; False when none is left to take."""
        part, now = self.part, self.part.clock()
        taken = await part.store.take_plan_range(
            part.spec.id, me=part.me, now=now, until=now + LEASE, owners_gone=True
        )
        if taken is None:
            return False
        if not await self.plan(taken):
            logs.log.info("the planning of ids (%s, %s] went to another planner", *taken.rest)
        return True

    async def plan(self, taken: RangeTaken) -> bool:
        """Plan ``taken`` from where it got to; False if it was taken from this lane. The
        next page is read and planned while this one is written (its floor read first)."""
        cursor = taken.cursor
        following = asyncio.ensure_future(self._page(cursor, taken.hi))
        try:
            while True:
                floor, ids, desired = await following
                if not ids:
                    return await _done(self.part, taken, cursor)
                following = asyncio.ensure_future(self._page(ids[-1], taken.hi))
                rows = _keep_rows(desired)
                del desired
                if not await write_page(self.part, taken, (cursor, ids[-1]), ids, rows, floor):
                    return False
                cursor = ids[-1]
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)

    async def _page(self, after: str, up_to: str | None) -> tuple[int, list[str], list[OutboxRow]]:
        """The next page after ``after``: the floor read before it, its ids, its rows."""
        part, store = self.part, self.part.store
        planner = self._planner = self._planner or _planner(part)
        floor = await store.changes_done()  # before the facts it guards
        page = await store.facts_page(after, self.page_size, part.state.sent_since, up_to)
        if not page:
            return floor, [], []
        caps = {rule.id: rule.policies.caps for rule in part.project.rules}
        with collector_paused():
            desired = desired_rows(await asyncio.to_thread(planner.plan, page), caps)
        return floor, [f.customer.id for f in page], desired


def _planner(part: Part) -> Planner:
    spec, config = part.spec, part.project.config
    return Planner(part.project.rules, window=spec.window, config=config, now=spec.now)


class _WorkerLane(_Lane):
    """Takes ranges and has its worker process read and plan them; writes here."""

    def __init__(self, part: Part, worker: WorkerProcess) -> None:
        super().__init__(part)
        self.worker: WorkerProcess | None = worker
        self.started = False
        self.cursor = ""
        self.page_size = math.ceil(part.state.page_size / 2)  # two wait at once: see plan()

    async def take_ranges(self) -> None:
        while self.worker is not None and await self.take_one():
            pass

    async def plan(self, taken: RangeTaken) -> bool:
        self.cursor = taken.cursor
        try:
            status, why = await self._plan(taken)
        except PlanWorkerError as exc:
            status, why = "stopped", str(exc)
            self.worker = None  # the lane closes once this range is planned here
        if status == "lost":
            return False
        rest = dataclasses.replace(taken, cursor=self.cursor)
        if status != "ok":  # it could not (a reload under way, an error): planned here
            self.worker = None
            logs.log.warning("a planning worker stopped; planning its range here: %s", why)
            return await _Lane(self.part).plan(rest)
        return await _done(self.part, taken, self.cursor)

    async def _plan(self, taken: RangeTaken) -> tuple[str, Any]:
        """Its pages, written as they come: ("ok", None) when all are, ("lost", None) when
        the range was taken from this lane, else the worker's failure."""
        assert self.worker is not None
        status, payload = await self._begin(taken)
        while status == "ok" and payload is not None:
            last, page = _page(payload)
            ids, rows, floor = page.customer_ids, _worker_rows(page), page.floor
            del page
            # The worker plans its next page while this one is written.
            following = asyncio.create_task(self.worker.ask(("page",)))
            try:
                ok = await write_page(self.part, taken, (self.cursor, last), ids, rows, floor)
            except BaseException:
                following.cancel()  # the lane ends: its worker is closed, not asked again
                raise
            if ok:
                self.cursor = last  # written, whatever the worker answers next
            status, payload = await following  # read also when the range was lost
            if not ok:
                return "lost", None
        return status, payload

    async def _begin(self, taken: RangeTaken) -> tuple[str, Any]:
        """Give the worker the range (the project and store, the first time); its first page."""
        worker = self.worker
        assert worker is not None
        if self.started:
            status, payload = await worker.ask(("range", taken.rest))
        else:
            part, spec = self.part, self.part.spec
            digest = part.project.digest  # the worker loads what this daemon runs, or refuses
            assert digest is not None
            job = Assignment(
                root=str(part.project.config.root), store=part.store.location, digest=digest,
                window=spec.window, now=spec.now, ids=taken.rest, page_size=self.page_size,
            )  # fmt: skip
            status, payload = await worker.ask(("init", job))
            self.started = status == "ok"
        if status != "ok":
            return status, payload
        return await worker.ask(("page",))


def _page(payload: Any) -> tuple[str, PlannedPage]:
    """A page's reply: its last customer id and the page; one of another shape is the
    worker's failure (its range is planned here all the same)."""
    try:
        last, _, data = payload
        page = pickle.loads(data)
    except Exception as exc:
        raise PlanWorkerError(f"a reply of the worker could not be read ({exc!r})") from None
    if not isinstance(page, PlannedPage) or not isinstance(last, str):
        raise PlanWorkerError(f"a reply of the worker could not be read ({type(page)})")
    return last, page


RowsWanted = Callable[[Collection[str]], list[OutboxRow]]


def _keep_rows(desired: list[OutboxRow]) -> RowsWanted:
    """The rows planned here, but for the customers left out."""

    def rows(leave_out: Collection[str]) -> list[OutboxRow]:
        if not leave_out:
            return desired
        return [r for r in desired if r.customer_id not in leave_out]

    return rows


def _worker_rows(page: PlannedPage) -> RowsWanted:
    """A worker's rows (as they travel), but for the customers left out; the worker logs
    nothing, so a customer who cannot be planned is logged here."""

    def rows(leave_out: Collection[str]) -> list[OutboxRow]:
        packed = page.rows
        if leave_out:
            packed = [row for row in packed if row[CUSTOMER_ID] not in leave_out]
        desired = unpack_rows(packed)
        for row in desired:
            if row.reason == _INVALID and row.key.endswith(_UNPLANNABLE):
                unplannable.report(row.customer_id, row.last_error or "")
        return desired

    return rows


async def write_page(
    part: Part,
    taken: RangeTaken,
    cursors: tuple[str, str],
    ids: list[str],
    rows: RowsWanted,
    floor: int,
) -> bool:
    """Under the turn: if ``taken`` is still this lane's (at ``cursors[0]``), write the
    page, but for whom it must leave out, and record it written up to ``cursors[1]``."""
    store = part.store
    async with part.turn:
        now = part.clock()
        if not await store.advance_plan_range(
            taken, me=part.me, cursor=cursors[0], done=False, until=now + LEASE
        ):
            return False
        leave_out = await store.replanned_after(ids, floor)
        leave_out |= set(ids) - await store.existing_customer_ids(ids)
        if leave_out:
            ids = [i for i in ids if i not in leave_out]
        with collector_paused():
            await write_desired(store, rows(leave_out), ids, part.state, customers=len(ids))
        await store.advance_plan_range(
            taken, me=part.me, cursor=cursors[1], done=False, until=now + LEASE
        )
    return True


async def _done(part: Part, taken: RangeTaken, cursor: str) -> bool:
    now = part.clock()
    return await part.store.advance_plan_range(
        taken, me=part.me, cursor=cursor, done=True, until=now + LEASE
    )
