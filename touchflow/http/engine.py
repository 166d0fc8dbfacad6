"""What the HTTP interface needs from the daemon, and re-planning soon after a write.

The daemon (``touchflow.send.daemon.Daemon``) is the ``Engine``; the interface never
plans or sends itself. After a write it asks for a re-plan of the customers
that changed (the store's ``changes`` table names them) and wakes the dispatch
loop, without waiting for the ``watch`` timer, and answers when that is done
(or after a second): a client that reads the outbox after the answer sees what
its write did, and a row due now is already on its way.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from touchflow import logs
from touchflow.clock import Clock
from touchflow.project import Project
from touchflow.send.instance import Standing
from touchflow.store import Store


class Engine(Protocol):
    project: Project  # the current rules and templates (swapped whole on reload)
    store: Store
    clock: Clock

    async def plan_changes(self) -> int:
        """Re-plan the customers whose facts changed."""
        ...

    async def wake(self) -> None:
        """Have the dispatch loop look at the store's next ready row (sends what is due)."""
        ...

    def exclusive(self) -> AbstractAsyncContextManager[None]:
        """Hold off planning runs (while a customer is erased)."""
        ...

    def timers(self) -> dict[str, datetime | None] | None:
        """Timer name → next run, or None when the scheduler is not running."""
        ...

    @property
    def standing(self) -> Standing:
        """This daemon among the daemons of its store: instance id, role, the store reached."""
        ...


class Replanner:
    """Runs ``plan_changes`` + ``wake`` after writes: one run at a time, bursts coalesced."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def request(self) -> None:
        self._wanted.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def replan(self, *, wait: float = 1.0) -> None:
        """Ask for a re-plan and wait for it, at most ``wait`` seconds: an answer that comes
        after it means the outbox already shows the write. Slower runs (a full plan holds
        the lock) finish in the background."""
        self.request()
        assert self._task is not None
        await asyncio.wait({self._task}, timeout=wait)

    async def idle(self) -> None:
        """Return when no re-plan is running or wanted (tests, shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while self._wanted.is_set():
            self._wanted.clear()  # a write during this run asks for one more
            try:
                await self._engine.plan_changes()
                await self._engine.wake()
            except Exception:
                # The changes stay recorded: the watch timer plans them on its next tick.
                logs.log.exception("re-planning after an HTTP write failed; retrying on `watch`")
