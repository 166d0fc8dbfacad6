"""The daemon's planning runs: the full plan ahead, and re-plans of customers that changed.

The full plan covers everyone, [where planning stopped, now + horizon), at most
``daemon.catch_up`` back: the daemon that plans shares it out in id ranges, and every
daemon of the store with the same project takes part (``touchflow.send.plan_share``).
A re-plan of changes covers the customers named in the store's ``changes`` table (or
everyone, when too many changed), through ``plan_into_outbox``; while a full plan is
shared out its changes are kept, so that its pages leave those customers out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime

from touchflow import logs
from touchflow.clock import Clock
from touchflow.errors import TouchflowError
from touchflow.models import Window
from touchflow.plan.candidates import sends_counted_from
from touchflow.project import Project
from touchflow.send.plan_lanes import RUN_META, Part, RunSpec
from touchflow.send.plan_share import lanes_for, share_out, take_part
from touchflow.send.replan import PlanRun, PlanState, close_orphans, plan_into_outbox
from touchflow.store import PAGE_SIZE, Store

PLANNED_UNTIL = "daemon_planned_until"  # meta: end of the last full plan's window
_FULL_REPLAN_ABOVE = 5000  # changed customers; more than this: plan everyone
_WAIT_FOR_OTHERS = 0.5  # seconds between looks at the ranges other daemons plan


@dataclass(frozen=True, slots=True, kw_only=True)
class LastPlan:
    """This daemon's last full plan, kept in memory (the console's health page shows it)."""

    run: PlanRun  # its window, customers, touchpoints and seconds (this daemon's part)
    finished_at: datetime


class DaemonPlanning:
    """A daemon's planning runs, one writer at a time; the project is read at each run
    (a reload swaps it whole)."""

    def __init__(
        self,
        *,
        project: Callable[[], Project],
        store: Store,
        clock: Clock,
        planner: Callable[[], Awaitable[bool]] | None = None,
        me: str = "this daemon",
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._project = project
        self._planner = planner
        self._store = store
        self._clock = clock
        self._me = me  # the owner of the id ranges this daemon plans (its instance id)
        self._page_size = page_size  # customers a page of the full plan; ranges of two
        # Plans read the outbox, then write it: two at once could write older facts last.
        # Each planning step (a page of a full plan, a re-plan of changes) first makes
        # sure this daemon still plans (``planner``): one that lost the lead stops.
        mine = asyncio.Lock()
        self.turn = _Turn(store, mine, planner)
        self.exclusive = _Turn(store, mine, None)  # an erasure, from any daemon
        self.page_turn = _Turn(store, mine, None, shared=True)  # a page of a shared plan
        self._full_plan = asyncio.Lock()  # one full plan at a time
        self._helping = asyncio.Lock()  # one part in another daemon's full plan at a time
        self._told = ""  # the shared plan whose other project files were logged
        # The end of the window of the last re-plan of changes, if it planned everyone.
        self._planned_everyone: datetime | None = None
        self.last_full: LastPlan | None = None  # none yet since the daemon started

    async def at_start(self) -> int:
        """Plan what changed, then what is ahead."""
        changed = await self.changes()
        if self._planned_everyone is not None and await self._caught_up():
            # So many customers changed that everyone was planned, from further back than
            # the full plan looks and as far ahead: a second full plan would add nothing.
            await self._store.set_meta(PLANNED_UNTIL, self._planned_everyone.isoformat())
            return changed
        return changed + await self.ahead()

    async def _caught_up(self) -> bool:
        """Whether the last full plan ended within ``daemon.catch_up`` (or there was none)."""
        last = await self._store.get_meta(PLANNED_UNTIL)
        catch_up = self._project().config.daemon.catch_up
        return last is None or datetime.fromisoformat(last) >= self._clock.now() - catch_up

    async def many_changed(self, batch: int) -> bool:
        """Whether at least ``batch`` customers changed since the last re-plan."""
        last, customers = await self._store.pending_changes(limit=_FULL_REPLAN_ABOVE)
        return bool(last) and (customers is None or len(customers) >= batch)

    async def ahead(self) -> int:
        """The full plan: everyone, [start, now + horizon), shared out in id ranges that
        this daemon and the others take (``touchflow.send.plan_share``); it waits for
        theirs. Each page takes the planning lock, so changes are re-planned in between."""
        async with self._full_plan:
            try:
                return await self._ahead()
            except LeadLostError:
                logs.log.warning("no longer the daemon that plans: the full plan stopped")
                return 0

    async def _ahead(self) -> int:
        now = self._clock.now()
        settings = self._project().config.daemon
        start = now
        last = await self._store.get_meta(PLANNED_UNTIL)
        if last is not None:
            start = min(now, datetime.fromisoformat(last))
        if start < now - settings.catch_up:
            logs.log.warning(
                "planning stopped at %s, longer ago than daemon.catch_up (%s): "
                "touchpoints due before %s are not planned",
                start.isoformat(),
                settings.catch_up,
                (now - settings.catch_up).isoformat(),
            )
            start = now - settings.catch_up
        window = Window(start=start, end=now + settings.horizon)
        spec = RunSpec.new(window=window, now=now, digest=self._project().plan_digest)
        started = time.perf_counter()
        state, everyone = await self._share_out(spec)
        await self._take_part(spec, state)
        await self._wait_for_others(spec, state)
        async with self.turn:
            await self._end_run(spec)
            await self._store.set_meta(PLANNED_UNTIL, window.end.isoformat())
        state.total.warn_missed()
        run = state.total.plan_run(window, seconds=time.perf_counter() - started)
        self.last_full = LastPlan(run=run, finished_at=self._clock.now())
        logs.log.info(
            "planned %d customers, %s to %s: %d touchpoints, %d new, %d changed (%.2f s)%s",
            run.customers, _t(window.start), _t(window.end), run.touchpoints,
            run.inserted, run.updated, run.seconds, "" if run.customers >= everyone
            else f"; other daemons planned about {everyone - run.customers} more customers",
            extra=_plan_fields("all", run.seconds),
        )  # fmt: skip
        return run.touchpoints

    async def _wait_for_others(self, spec: RunSpec, state: PlanState) -> None:
        """Until every range is done, taking those whose planner stopped. Whether this one
        still plans is asked of the lead alone: the store's turn, taken alone, would hold
        up every other daemon's page each time."""
        while await self._store.plan_ranges_left(spec.id):
            await asyncio.sleep(_WAIT_FOR_OTHERS)
            if self._planner is not None and not await self._planner():
                raise LeadLostError("another daemon plans now")
            await self._take_part(spec, state)

    async def _share_out(self, spec: RunSpec) -> tuple[PlanState, int]:
        """Close the orphans and start the run: its state, and how many customers it has."""
        project = self._project()
        state = _state(spec, project, self._page_size)
        async with self.turn:
            await close_orphans(project, self._store, spec.now, state.total)
            await share_out(self._store, spec, page_size=self._page_size)
            await self._store.set_meta(RUN_META, spec.text())
            everyone = await self._store.customer_count()
        return state, everyone

    async def _take_part(self, spec: RunSpec, state: PlanState) -> None:
        project = self._project()
        part = Part(project=project, store=self._store, spec=spec, me=self._me,
                    turn=self.page_turn, state=state, clock=self._clock.now)  # fmt: skip
        await take_part(part, await lanes_for(project, self._store))

    async def _end_run(self, spec: RunSpec) -> None:
        """The run is over: forget it, and the changes its pages had to know of."""
        await self._store.end_plan_run(spec.id)
        await self._store.set_meta(RUN_META, "")
        await self._store.drop_changes(await self._store.changes_done())

    def _plans_alike(self, spec: RunSpec, project: Project) -> bool:
        """Whether this daemon's project plans as the one of ``spec`` (said once a run)."""
        if spec.digest is not None and spec.digest == project.plan_digest:
            return True
        if spec.id != self._told:
            self._told = spec.id
            logs.log.warning(
                "the full plan shared out follows other project files than this daemon's "
                "(rules, templates or touchflow.yaml: another commit?); it leaves that plan "
                "to the daemons that run the planner's files"
            )
        return False

    async def help(self) -> int:
        """Take part in the full plan another daemon shared out, if there is one and this
        daemon's project plans alike (``Project.plan_digest``): the customers it planned."""
        if self._full_plan.locked() or self._helping.locked():
            return 0  # its own full plan, or already helping
        async with self._helping:
            spec = RunSpec.read(await self._store.get_meta(RUN_META))
            project = self._project()
            if spec is None or not self._plans_alike(spec, project):
                return 0
            state = _state(spec, project, self._page_size)
            started = time.perf_counter()
            await self._take_part(spec, state)
        if state.total.customers:
            state.total.warn_missed()
            logs.log.info(
                "planned %d customers of the full plan shared out (%d new, %d changed, %.2f s)",
                state.total.customers, state.total.inserted, state.total.updated,
                time.perf_counter() - started,
            )  # fmt: skip
        return state.total.customers

    async def changes(self) -> int:
        """Re-plan customers whose facts changed, looking back ``catch_up`` for late events."""
        try:
            async with self.turn:
                return await self._changes()
        except LeadLostError:
            return 0  # the daemon that plans now re-plans them

    async def _changes(self) -> int:
        self._planned_everyone = None
        last, customers = await self._store.pending_changes(limit=_FULL_REPLAN_ABOVE)
        if not last:
            return 0
        project = self._project()
        now = self._clock.now()
        settings = project.config.daemon
        window = Window(start=now - settings.catch_up, end=now + settings.horizon)
        run = await plan_into_outbox(
            project, self._store, window=window, now=now, customer_ids=customers
        )
        # While a full plan is shared out, its pages must learn whom this re-planned.
        await self._store.drop_changes(last, keep=bool(await self._store.get_meta(RUN_META)))
        self._planned_everyone = window.end if customers is None else None
        logs.log.info(
            "re-planned %d changed customer(s): %d new, %d changed (%.2f s)",
            run.customers, run.inserted, run.updated, run.seconds,
            extra=_plan_fields("changed", run.seconds),
        )  # fmt: skip
        return run.touchpoints


class LeadLostError(TouchflowError):
    """This daemon no longer plans (another one took the lead): its planning stops."""


class _Turn:
    """The planning turn: this process's lock, then the store's (``planning_turn``: no
    other process of the store plans meanwhile, on a store several daemons share; or,
    ``shared``, none but pages of the shared full plan); with ``planner``, then whether
    this daemon still plans (``LeadLostError`` if not)."""

    def __init__(
        self,
        store: Store,
        mine: asyncio.Lock,
        planner: Callable[[], Awaitable[bool]] | None,
        *,
        shared: bool = False,
    ) -> None:
        self._mine = mine
        self._store = store
        self._planner = planner
        self._shared = shared
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> None:
        await self._mine.acquire()
        try:
            await self._stack.enter_async_context(self._store.planning_turn(shared=self._shared))
            if self._planner is not None and not await self._planner():
                raise LeadLostError("another daemon plans now")
        except BaseException:
            try:
                await self._stack.aclose()
            finally:
                self._mine.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._stack.aclose()
        finally:
            self._mine.release()


def _state(spec: RunSpec, project: Project, page_size: int) -> PlanState:
    """A shared run's planning state, with totals of this daemon's part."""
    sent_since = sends_counted_from(spec.window.start, project.config)
    return PlanState(window=spec.window, now=spec.now, page_size=page_size, sent_since=sent_since)


def _plan_fields(scope: str, seconds: float) -> dict[str, dict[str, object]]:
    """The fields of a planning run's log line (the metrics read them)."""
    return {"tf": {"event": "plan", "scope": scope, "seconds": round(seconds, 6)}}


def _t(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M")
