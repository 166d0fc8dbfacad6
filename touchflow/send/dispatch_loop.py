"""The daemon's dispatch loop: drains back to back while rows are ready, then asleep
until the store's next due row or a wake-up, whichever comes first.

Anything that may have made a row ready calls ``wake()``: an HTTP event's re-plan,
the ``watch`` timer (changes recorded by another process, and a look at the store's
next due time on every tick), a full plan, a reload, a reclaim. ``wake()`` only sets
a flag. The loop clears it *before* it reads the next due time from the store, so a
wake-up during that read or during a drain makes it look again as soon as the drain
ends: a row that becomes due while a dispatch runs is sent by that dispatch or by
the one started right after it.

This used to be a one-off APScheduler job re-armed at the end of its own run. The new
run fired while the old one still counted as running and was skipped
(``max_instances``), so rows that arrived during a dispatch waited for the next full
plan, 15 minutes. APScheduler keeps the periodic timers; the store keeps this one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from touchflow import logs
from touchflow.clock import Clock
from touchflow.send.dispatch import Dispatcher
from touchflow.store import Store

FAILED_PAUSE = 1.0  # seconds before a failed pass is tried again; doubled each time
FAILED_PAUSE_MOST = 60.0
CANCEL_WAIT = 5.0  # seconds a cancelled drain gets to clean up at shutdown


class DispatchLoop:
    def __init__(self, *, dispatcher: Dispatcher, store: Store, clock: Clock) -> None:
        self._dispatcher = dispatcher
        self._store = store
        self._clock = clock
        self._wanted = asyncio.Event()  # the dirty flag: look at the store again
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.draining = False
        self.next_at: datetime | None = None  # the due row it sleeps until (daemon time)

    def start(self) -> None:
        self._wanted.set()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dispatch")

    def wake(self) -> None:
        """Look at the store again: now, or right after the drain under way."""
        self._wanted.set()

    async def stop(self, grace: float) -> None:
        """Let the drain under way finish its sends (it claims nothing new once the
        dispatcher is stopping), at most ``grace`` seconds; then cancel it."""
        self._stopping.set()
        if self._task is None:
            return
        await asyncio.wait({self._task}, timeout=grace)
        if not self._task.done():
            self._task.cancel()  # the claims it holds are taken back by the caller
            # ...after its own clean-up (releasing claims, closing the preparer) has run,
            # so nothing it does lands after the caller took the claims back.
            await asyncio.wait({self._task}, timeout=CANCEL_WAIT)

    async def _run(self) -> None:
        failures = 0
        while not self._stopped():
            try:
                await self._pass()
                failures = 0
            except Exception:
                # A pass that failed (the store, a sender) is tried again after a pause,
                # longer each time: at once would spin, never would leave due rows waiting.
                failures += 1
                pause = min(FAILED_PAUSE * 2 ** (failures - 1), FAILED_PAUSE_MOST)
                logs.log.exception("dispatch failed; trying again in %g s", pause)
                self.next_at = self._clock.now() + timedelta(seconds=pause)
                await self._sleep(pause, wakeable=False)

    def _stopped(self) -> bool:
        return self._stopping.is_set() or self._dispatcher.stopping

    async def _pass(self) -> None:
        """One drain if a row is ready; otherwise sleep until one is due or a wake-up."""
        self._wanted.clear()  # from here on, a wake-up means: look again
        ready = await self._store.next_ready_at()
        now = self._clock.now()
        if ready is None or ready > now:
            self.next_at = ready
            await self._sleep(None if ready is None else (ready - now).total_seconds())
            return
        self.next_at, self.draining = None, True
        try:
            tally = await self._dispatcher.drain()
        finally:
            self.draining = False
        if tally.states:
            logs.log.info("dispatched: %s", tally.text())

    async def _sleep(self, seconds: float | None, *, wakeable: bool = True) -> None:
        """Until ``seconds`` pass (None: no limit), the loop stops, or (if ``wakeable``) a wake."""
        flags = [self._stopping, *([self._wanted] if wakeable else [])]
        waits = [asyncio.ensure_future(flag.wait()) for flag in flags]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
