"""The daemon's full plan in worker processes: they read and plan pages, the daemon writes.

Reading a page's facts and planning it are most of a full plan's time and need
nothing but the customers' own facts, so with more than a page of customers each
id range goes to a worker process (``touchflow.send.plan_worker``), one per core,
while the daemon does the one thing only it may do: write the outbox, a page per
transaction, under its planning lock (``touchflow.send.replan``).

Memory stays bounded: the daemon asks each worker for one page at a time and
asks for the next as soon as a page arrives, so a worker plans its next page
while its last one waits to be written, never further ahead. A page waits as the
bytes it came in (a worker's page is a few MB pickled); it is opened only when
the daemon writes it. So the daemon holds at most two pages of bytes a worker
and the one page it writes.

Each page carries a mark (``Marks.mark``) taken when the daemon asked for it:
the worker read its facts after that, so whoever was re-planned later, with
facts at least as new, must not be overwritten by it (``Marks.newer``).

A worker that cannot do its range (it failed, stopped, or loaded other files than
the daemon runs: a reload is under way) hands it back: the daemon plans the rest
of that range itself, a page at a time, as it does without workers.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from touchflow.errors import TouchflowError
from touchflow.send.plan_worker import HEADER, Assignment, PlannedPage
from touchflow.send.worker_boot import worker_command
from touchflow.store import IdRange

_REPLY_TIMEOUT = 600.0  # seconds for one page (a page takes a few)
_EXIT_WAIT = 2.0  # seconds a worker gets to exit once its stdin closes, before it is killed


class PlanWorkerError(TouchflowError):
    """A worker process stopped answering, or could not be talked to."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerPage:
    """A page planned by a worker, still as the bytes it came in."""

    asked: int  # the mark (``Marks.mark``) taken when the daemon asked for it
    customers: int
    data: bytes

    def open(self) -> PlannedPage:
        page: PlannedPage = pickle.loads(self.data)
        return page


@dataclass(frozen=True, slots=True, kw_only=True)
class Leftover:
    """The rest of an id range whose worker stopped: the daemon plans it itself."""

    ids: IdRange
    why: str


class _Process:
    """One worker process: requests go in on its stdin, replies come out of its stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> _Process:
        process = await asyncio.create_subprocess_exec(
            *worker_command("touchflow.send.plan_worker"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    async def send(self, request: tuple[Any, ...]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            stdin.write(HEADER.pack(len(data)) + data)
            await stdin.drain()
        except OSError as exc:
            raise PlanWorkerError(f"the worker process stopped ({exc!r})") from None

    async def reply(self) -> tuple[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            async with asyncio.timeout(_REPLY_TIMEOUT):
                (size,) = HEADER.unpack(await stdout.readexactly(HEADER.size))
                reply: tuple[str, Any] = pickle.loads(await stdout.readexactly(size))
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            raise PlanWorkerError(f"the worker process stopped answering ({exc!r})") from None
        except Exception as exc:  # not a reply as a worker writes one: its stdout is spoilt
            raise PlanWorkerError(f"a reply of the worker could not be read ({exc!r})") from None
        return reply

    async def ask(self, request: tuple[Any, ...]) -> tuple[str, Any]:
        await self.send(request)
        return await self.reply()

    async def aclose(self) -> None:
        """Close its stdin (it exits on its own), or kill it if it does not at once: it
        holds nothing worth waiting for."""
        process = self.process
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        try:
            async with asyncio.timeout(_EXIT_WAIT):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
        except asyncio.CancelledError:
            process.kill()  # no waiting for it now, but no process left behind either
            raise


class PlanWorkers:
    """The worker processes of one full plan, one id range each."""

    def __init__(self, workers: Sequence[tuple[_Process, IdRange]]) -> None:
        self._workers = list(workers)

    @property
    def pids(self) -> list[int]:
        return [process.process.pid for process, _ in self._workers]

    @classmethod
    async def start(cls, assignments: Sequence[Assignment]) -> PlanWorkers:
        """Start a process per assignment and send it its assignment; it loads the project
        and opens the store while the daemon goes on (``pages`` waits for it)."""
        started: list[tuple[_Process, IdRange]] = []
        try:
            for job in assignments:
                process = await _Process.start()
                started.append((process, job.ids))
                await process.send(("init", job))
        except BaseException:
            await PlanWorkers(started).aclose()
            raise
        return cls(started)

    async def pages(self, mark: Callable[[], int]) -> AsyncGenerator[WorkerPage | Leftover, None]:
        """Every range's pages as they come, and the rest of each range whose worker
        stopped; ``mark`` is called as each page is asked for."""
        queue: asyncio.Queue[WorkerPage | Leftover | None] = asyncio.Queue(maxsize=1)
        feeds = [
            asyncio.create_task(_feed(process, ids, queue, mark)) for process, ids in self._workers
        ]
        try:
            running = len(feeds)
            while running:
                item = await queue.get()
                if item is None:
                    running -= 1
                else:
                    yield item
        finally:
            for feed in feeds:
                feed.cancel()
            await asyncio.gather(*feeds, return_exceptions=True)

    async def aclose(self) -> None:
        """End every worker process (none outlives this)."""
        await asyncio.gather(*(process.aclose() for process, _ in self._workers))


async def _feed(
    process: _Process,
    ids: IdRange,
    queue: asyncio.Queue[WorkerPage | Leftover | None],
    mark: Callable[[], int],
) -> None:
    """Ask one worker for its range's pages and queue them, then None; a worker that
    stops leaves the rest of its range to the daemon (``Leftover``)."""
    after = ids[0]
    try:
        status, payload = await process.reply()  # to "init"
        asked = mark()
        if status == "ok":
            status, payload = await process.ask(("page",))
        while status == "ok" and payload is not None:
            after, customers, data = payload
            # The worker plans its next page while this one waits to be written.
            following = mark()
            request = asyncio.create_task(process.ask(("page",)))
            try:
                await queue.put(WorkerPage(asked=asked, customers=customers, data=data))
            except BaseException:
                request.cancel()
                raise
            asked = following
            status, payload = await request
        if status != "ok":
            await queue.put(Leftover(ids=(after, ids[1]), why=str(payload)))
    except PlanWorkerError as exc:
        await queue.put(Leftover(ids=(after, ids[1]), why=str(exc)))
    except Exception as exc:  # a reply of another shape: its range is planned here all the same
        await queue.put(Leftover(ids=(after, ids[1]), why=f"an unexpected reply ({exc!r})"))
    await queue.put(None)  # always: pages() counts the feeds still running
