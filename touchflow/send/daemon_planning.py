"""The daemon's planning runs: the full plan ahead, and re-plans of customers that changed.

The full plan covers everyone, [where planning stopped, now + horizon), at most
``daemon.catch_up`` back; a re-plan of changes covers the customers named in the
store's ``changes`` table (or everyone, when too many changed). Both write the
outbox through ``plan_into_outbox``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime

from touchflow import logs
from touchflow.clock import Clock
from touchflow.errors import TouchflowError
from touchflow.models import Window
from touchflow.project import Project
from touchflow.send.replan import plan_into_outbox
from touchflow.store import Store

PLANNED_UNTIL = "daemon_planned_until"  # meta: end of the last full plan's window
_FULL_REPLAN_ABOVE = 5000  # changed customers; more than this: plan everyone


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
    ) -> None:
        self._project = project
        self._store = store
        self._clock = clock
        # Plans read the outbox, then write it: two at once could write older facts last.
        # Each planning step (a page of a full plan, a re-plan of changes) first makes
        # sure this daemon still plans (``planner``): one that lost the lead stops.
        mine = asyncio.Lock()
        self.turn = _Turn(store, mine, planner)
        self.exclusive = _Turn(store, mine, None)  # an erasure, from any daemon
        self._full_plan = asyncio.Lock()  # one full plan at a time
        # The end of the window of the last re-plan of changes, if it planned everyone.
        self._planned_everyone: datetime | None = None
        # While a full plan runs: whom each re-plan of changes planned (None: everyone), in
        # order. A worker's page asked for at mark i leaves out whom the i-th and later planned.
        self._replanned: list[set[str] | None] = []

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
        """The full plan: everyone, [start, now + horizon). It takes the planning lock a
        page of customers at a time, so changed customers are re-planned in between."""
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
        self._replanned = []
        run = await plan_into_outbox(
            self._project(), self._store, window=window, now=now, turn=self.turn, marks=self
        )
        await self._store.set_meta(PLANNED_UNTIL, window.end.isoformat())
        logs.log.info(
            "planned %d customers, %s to %s: %d touchpoints, %d new, %d changed (%.2f s)",
            run.customers, _t(window.start), _t(window.end), run.touchpoints,
            run.inserted, run.updated, run.seconds, extra=_plan_fields("all", run.seconds),
        )  # fmt: skip
        return run.touchpoints

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
        await self._store.drop_changes(last)
        if self._full_plan.locked():  # a full plan is under way: its pages must know
            self._replanned.append(None if customers is None else set(customers))
        self._planned_everyone = window.end if customers is None else None
        logs.log.info(
            "re-planned %d changed customer(s): %d new, %d changed (%.2f s)",
            run.customers, run.inserted, run.updated, run.seconds,
            extra=_plan_fields("changed", run.seconds),
        )  # fmt: skip
        return run.touchpoints

    def mark(self) -> int:
        """For a full plan's worker (``touchflow.send.replan.Marks``): how many re-plans of
        changes ran since the full plan began."""
        return len(self._replanned)

    async def newer(self, since: int) -> set[str] | None:
        """Customers re-planned since ``mark()`` gave ``since``; None: everyone was.

        Not those changed and still waiting: their re-plan comes after this page is
        written and plans them from their newest facts, and a send checks a fresh plan
        first. (Asking the store for them cost a query a page, and on PostgreSQL up to
        2 s under the planning lock while an import wrote.)"""
        ids: set[str] = set()
        for replanned in self._replanned[since:]:
            if replanned is None:
                return None
            ids |= replanned
        return ids


class LeadLostError(TouchflowError):
    """This daemon no longer plans (another one took the lead): its planning stops."""


class _Turn:
    """The planning turn: this process's lock, then the store's (``planning_turn``: no
    other process of the store plans meanwhile, on a store several daemons share); with
    ``planner``, then whether this daemon still plans (``LeadLostError`` if not)."""

    def __init__(
        self, store: Store, mine: asyncio.Lock, planner: Callable[[], Awaitable[bool]] | None
    ) -> None:
        self._mine = mine
        self._store = store
        self._planner = planner
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> None:
        await self._mine.acquire()
        try:
            await self._stack.enter_async_context(self._store.planning_turn())
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


def _plan_fields(scope: str, seconds: float) -> dict[str, dict[str, object]]:
    """The fields of a planning run's log line (the metrics read them)."""
    return {"tf": {"event": "plan", "scope": scope, "seconds": round(seconds, 6)}}


def _t(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M")
