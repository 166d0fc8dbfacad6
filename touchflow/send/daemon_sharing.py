"""A daemon among the daemons of its store: whether it plans, whether it reaches the
store, and what the others commit (the store's notifications).

On PostgreSQL every daemon claims and sends; the one holding the lead plans
(``touchflow.send.instance``), and shares its full plan out: a notification of a plan
shared out (or the ``watch`` timer) has the others take part. A notification of
changes has the planner re-plan them at once, and one of a written plan has every
dispatcher look at the next ready row, so a write anywhere is acted on within a
second; the ``watch`` timer still polls, in case a notification is lost with a
connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from touchflow import logs
from touchflow.clock import Clock
from touchflow.errors import StoreError
from touchflow.send.instance import Lead, Standing
from touchflow.store import Store

_RETRY_FIRST, _RETRY_MOST = 1.0, 30.0  # seconds between tries to listen again


class Sharing:
    def __init__(
        self,
        lead: Lead,
        store: Store,
        clock: Clock,
        *,
        on_changes: Callable[[], Awaitable[object]],
        on_ready: Callable[[], None],
        on_lead: Callable[[], Awaitable[object]],
        on_plan: Callable[[], Awaitable[object]],
    ) -> None:
        self._lead = lead
        self._store = store
        self._clock = clock
        self._on_changes = on_changes
        self._on_ready = on_ready
        self._on_lead = on_lead
        self._on_plan = on_plan
        self._helping: asyncio.Task[None] | None = None
        self._leading: asyncio.Task[None] | None = None
        self.standing = Standing(instance=lead.instance, shared=lead.shared, planner=False)
        self._listening: asyncio.Task[None] | None = None
        self._replanning: asyncio.Task[None] | None = None
        self._again = False

    async def planner(self) -> bool:
        """Whether this daemon plans now (it holds the lead); False while the store is
        out of reach. A change of either is logged once."""
        try:
            planner = await self._lead.lead()
        except StoreError as exc:
            was = self.standing  # as it is now, after the wait
            if was.store_ok:
                logs.log.error(
                    "instance %s cannot reach the store: %s; trying again", was.instance, exc
                )
            since = was.since if not was.store_ok else self._clock.now()
            self.standing = Standing(
                instance=was.instance, shared=was.shared, planner=False, store_ok=False,
                since=since, error=str(exc),
            )  # fmt: skip
            return False
        was = self.standing  # as it is now: another call may have changed it meanwhile
        if not was.store_ok:
            logs.log.warning("instance %s reaches the store again", was.instance)
        if planner != was.planner and was.shared:
            role = "plans (it holds the lead)" if planner else "no longer plans"
            logs.log.info("instance %s %s", was.instance, role)
        self.standing = Standing(instance=was.instance, shared=was.shared, planner=planner)
        taking = self._leading is not None and not self._leading.done()
        if planner and not was.planner and self._listening is not None and not taking:
            # The lead came here while running (its holder stopped): plan as it did.
            self._leading = asyncio.get_running_loop().create_task(self._took_lead())
        return planner

    async def _took_lead(self) -> None:
        try:
            await self._on_lead()
        except Exception:  # the plan timer plans everyone at its next run
            logs.log.exception("planning after taking the lead failed")

    # --- notifications ------------------------------------------------------------

    def start(self) -> None:
        self._listening = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        for task in (self._listening, self._replanning, self._leading, self._helping):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _listen(self) -> None:
        pause = _RETRY_FIRST
        while True:
            try:
                async for kind in self._store.wake_ups():
                    pause = _RETRY_FIRST
                    if kind == "changes":
                        self._replan_soon()
                    elif kind == "plan":
                        self.help_soon()
                    else:
                        self._on_ready()
                return  # the store cannot tell (SQLite): the watch timer polls
            except StoreError as exc:
                logs.log.warning(
                    "not hearing the store's notifications (%s); polling until they are back; "
                    "trying again in %.0f s", exc, pause,
                )  # fmt: skip
            await asyncio.sleep(pause)
            pause = min(pause * 2, _RETRY_MOST)
            self._replan_soon()  # what was written while not listening

    def help_soon(self) -> None:
        """Take part in a full plan shared out, unless this daemon already does."""
        if self._helping is None or self._helping.done():
            self._helping = asyncio.get_running_loop().create_task(self._help())

    async def _help(self) -> None:
        try:
            await self._on_plan()
        except Exception:  # its ranges go to the others when their leases end
            logs.log.exception("taking part in the full plan failed")

    def _replan_soon(self) -> None:
        """Re-plan changes now, or right after the re-plan under way (bursts coalesced)."""
        self._again = True
        if self._replanning is None or self._replanning.done():
            self._replanning = asyncio.get_running_loop().create_task(self._replan())

    async def _replan(self) -> None:
        while self._again:
            self._again = False
            try:
                await self._on_changes()
            except Exception:  # the changes stay recorded: the watch timer plans them
                logs.log.exception("re-planning after a notification failed; retrying on `watch`")
