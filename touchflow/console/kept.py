"""The calendar's and the day page's counts, counted off the request path and kept.

Planning everyone takes seconds at 100k customers: no page waits for it. A page asks
``Kept.look`` for its count (by a key: the weeks shown, or the day); a count that is
not there yet, or is stale, is started in a worker thread, one count at a time, with
its own event loop and its own connection to the store, so the daemon's loop keeps
answering (the planning shares the interpreter with it, so pages are a little slower
while a count runs). Meanwhile the page shows the count it has, saying when it was
counted, or a "counting…" page that reloads itself.

A count is stale, and counted again when next asked for, when the daemon planned
since (its last full plan, or a re-plan of changed customers: the store's
``changes_done``), when the rules were reloaded (another project), or when it is
older than ``MAX_AGE`` (the window moves with the clock); a count that failed is
shown, saying why, and tried again after ``RETRY_FAILED``. At most ``KEPT`` counts are
kept, the oldest dropped first.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from touchflow import logs
from touchflow.console.backing import Engine
from touchflow.errors import TouchflowError
from touchflow.project import Project
from touchflow.store import Store, open_store

MAX_AGE = timedelta(minutes=10)
RETRY_FAILED = timedelta(seconds=30)  # a failed count is shown this long, then tried again
KEPT = 64

Key = tuple[str, str]  # ("month", "4"), ("day", "2026-11-24")
Counter = Callable[[Project, Store, datetime], Awaitable[object]]  # the count, as of now


@dataclass(frozen=True, slots=True, kw_only=True)
class Mark:
    """What the counts were made from: another mark, another count."""

    project: int  # id() of the project object: a reload makes a new one
    planned_at: datetime | None  # the daemon's last full plan
    changes: int  # the store's changes_done


@dataclass(frozen=True, slots=True, kw_only=True)
class Counted:
    value: object
    counted_at: datetime  # the daemon's clock when the count started
    seconds: float
    mark: Mark
    error: str = ""  # the count failed: why (value is None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Seen:
    """What a page gets: the last count (None: none yet), and whether one is under way."""

    counted: Counted | None
    counting: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class _Asked:
    project: Project
    count: Counter
    now: datetime
    mark: Mark


class Kept:
    def __init__(self, *, read_only: bool = False) -> None:
        self._read_only = read_only  # `touchflow console`'s: counts on read-only connections
        self._lock = threading.Lock()
        self._done: dict[Key, Counted] = {}
        self._asked: dict[Key, _Asked] = {}
        self._worker: threading.Thread | None = None

    async def look(self, engine: Engine, key: Key, count: Counter) -> Seen:
        """The count kept for ``key``; counted (again) in the worker if none or stale."""
        last = engine.last_plan
        project, now = engine.project, engine.clock.now()
        mark = Mark(
            project=id(project), planned_at=last.finished_at if last else None,
            changes=await engine.store.changes_done(),
        )  # fmt: skip
        with self._lock:
            found = self._done.get(key)
            if not _fresh(found, mark, now) and key not in self._asked:
                self._asked[key] = _Asked(project=project, count=count, now=now, mark=mark)
                self._start()
            return Seen(counted=found, counting=key in self._asked)

    async def idle(self) -> None:
        """Wait until every count asked for is done (for tests and the bench)."""
        while (worker := self._worker) is not None and worker.is_alive():
            await asyncio.to_thread(worker.join)

    def _start(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="console-counts", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._asked:
                    return
                key, asked = next(iter(self._asked.items()))
            done = asyncio.run(_count(key, asked, read_only=self._read_only))
            with self._lock:
                self._done.pop(key, None)
                self._done[key] = done
                while len(self._done) > KEPT:
                    del self._done[next(iter(self._done))]
                del self._asked[key]


def _fresh(found: Counted | None, mark: Mark, now: datetime) -> bool:
    if found is None:
        return False
    if found.error:
        return now - found.counted_at < RETRY_FAILED
    return found.mark == mark and now - found.counted_at < MAX_AGE


async def _count(key: Key, asked: _Asked, *, read_only: bool) -> Counted:
    started = time.perf_counter()
    try:
        location = asked.project.config.store_location()
        async with await open_store(location, read_only=read_only) as store:
            value: object = await asked.count(asked.project, store, asked.now)
        error = ""
    except Exception as exc:  # the page says why; the worker goes on
        value, error = None, str(exc) if isinstance(exc, TouchflowError) else repr(exc)
        logs.log.warning("console: counting %s %s failed: %s", key[0], key[1], error)
    seconds = time.perf_counter() - started
    return Counted(value=value, counted_at=asked.now, seconds=seconds, mark=asked.mark, error=error)
