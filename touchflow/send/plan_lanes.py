"""A daemon's part in a full plan shared out: the run (``RunSpec``), and the lanes that
take its id ranges and plan them (``touchflow.send.plan_share`` starts them).

A lane takes a range, plans it a page at a time and writes each page under the
planning turn (``write_page``), recording how far it got; then it takes the next. A
worker lane has its worker process (``touchflow.send.plan_worker``) read and plan
while this process writes; a lane of this process reads and plans its next page while
it writes this one. A worker that fails leaves the rest of its range to this process.

Under the turn, before writing a page, the lane makes sure the range is still its own
(else another planner has it, or the run was replaced: the lane stops), and leaves out
the customers re-planned since the store's ``changes_done`` read before the page
(``replanned_after``) and those no longer in the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import pickle
import uuid
from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from touchflow import logs
from touchflow.collector import collector_paused
from touchflow.models import HoldReason, OutboxRow, Window
from touchflow.plan import unplannable
from touchflow.plan.planner import Planner
from touchflow.project import Project
from touchflow.send.outbox import desired_rows
from touchflow.send.plan_worker import CUSTOMER_ID, Assignment, PlannedPage, unpack_rows
from touchflow.send.plan_workers import PlanWorkerError, WorkerProcess
from touchflow.send.replan import PlanState, write_desired
from touchflow.store import RangeTaken, Store

LEASE = timedelta(minutes=15)  # a range's lease, renewed at every page (> a worker's timeout)
RUN_META = "plan_run"  # meta: the run under way (``RunSpec.text``), "" when none
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


async def take(part: Part) -> RangeTaken | None:
    now = part.clock()
    return await part.store.take_plan_range(
        part.spec.id, me=part.me, now=now, until=now + LEASE, owners_gone=True
    )


class Lane:
    """Takes ranges and plans them here, a page at a time."""

    def __init__(self, part: Part) -> None:
        self.part = part
        self.page_size = part.state.page_size
        self._planner: Planner | None = None  # made when first needed: a worker lane may not

    async def take_ranges(self, first: RangeTaken | None = None) -> None:
        """Plan ``first`` (taken already), then every range it can take."""
        taken = first or await take(self.part)
        while taken is not None and self.open:
            if not await self.plan(taken):
                logs.log.info("the planning of ids (%s, %s] went to another planner", *taken.rest)
            taken = await take(self.part) if self.open else None

    @property
    def open(self) -> bool:
        """Whether it takes more ranges (a worker lane whose worker stopped does not)."""
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
                    return await done(self.part, taken, cursor)
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


class WorkerLane(Lane):
    """Takes ranges and has its worker process read and plan them; writes here."""

    def __init__(self, part: Part, worker: WorkerProcess) -> None:
        super().__init__(part)
        self.worker: WorkerProcess | None = worker
        self.started = False
        self.cursor = ""
        self.page_size = math.ceil(part.state.page_size / 2)  # two wait at once: see plan()

    @property
    def open(self) -> bool:
        return self.worker is not None

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
            return await Lane(self.part).plan(rest)
        return await done(self.part, taken, self.cursor)

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


async def done(part: Part, taken: RangeTaken, cursor: str) -> bool:
    now = part.clock()
    return await part.store.advance_plan_range(
        taken, me=part.me, cursor=cursor, done=True, until=now + LEASE
    )
