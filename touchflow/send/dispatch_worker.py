"""The dispatcher's worker process: plans, renders and composes claimed batches.

The daemon's event loop speaks SMTP to the server and SQL to the store; the
CPU work in between (a fresh plan per batch, Jinja, MIME, DKIM) runs here, on
the machine's other core (docs/decisions.md). The worker reads the store and
writes nothing: every outcome is recorded by the daemon, which also logs it.

The daemon starts it (``python -P -c`` with the path of its own touchflow)
and speaks over its stdin and stdout: length-prefixed pickles, one request, one reply.
The worker loads the project itself and refuses a batch if what it loaded is
not byte for byte what the daemon runs (``Project.digest``); the daemon then
prepares that batch itself. It exits when its stdin closes, so it never
outlives the daemon, not even a SIGKILLed one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import operator
import os
import pickle
import signal
import struct
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from touchflow import logs
from touchflow.builders import positional_builder
from touchflow.channels import Envelope
from touchflow.errors import ProblemsError, TouchflowError
from touchflow.messages.dkim import DkimSigner
from touchflow.models import OutboxRow
from touchflow.project import Project, load_with_links
from touchflow.send.batch import Prepared, prepare
from touchflow.send.worker_boot import worker_command
from touchflow.store import Store, open_store

T = TypeVar("T")
_HEADER = struct.Struct("!I")


class _Fields(Generic[T]):
    """A frozen dataclass as the tuple of its fields and back, for the pipe.

    Pickle would do it by itself, but a slotted dataclass pickles through
    ``dataclasses.fields()`` for every object: most of the daemon's share of a
    batch's round trip to the worker, before this.
    """

    def __init__(self, cls: type[T]) -> None:
        names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        self._values = operator.attrgetter(*names)  # in declared order, as the builder takes
        self._build = positional_builder(cls)

    def pack(self, item: T) -> tuple[Any, ...]:
        values: tuple[Any, ...] = self._values(item)
        return values

    def unpack(self, values: tuple[Any, ...]) -> T:
        return self._build(*values)


_ROWS = _Fields(OutboxRow)
_ENVELOPES = _Fields(Envelope)
_PackedPrepared = tuple[tuple[Any, ...], tuple[Any, ...] | None]


def _pack_prepared(item: Prepared) -> _PackedPrepared:
    envelope = None if item.envelope is None else _ENVELOPES.pack(item.envelope)
    return _ROWS.pack(item.row), envelope


def _unpack_prepared(packed: _PackedPrepared) -> Prepared:
    row, envelope = packed
    return Prepared(
        row=_ROWS.unpack(row), envelope=None if envelope is None else _ENVELOPES.unpack(envelope)
    )


_REPLY_TIMEOUT = 120.0  # seconds; a worker that takes longer is stopped and not used again
_PAUSE = 60.0  # seconds without a worker after one failed


class WorkerError(TouchflowError):
    """The worker cannot prepare this batch: it stopped, or it failed."""


class StaleProject(WorkerError):
    """The files the worker loaded are not the ones the daemon runs (a reload is under way)."""


class Worker:
    """The daemon's handle on one worker process. One request at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, project: Project, *, store: str, signer: DkimSigner | None) -> Worker:
        """Start the process and wait until it has loaded the project and opened the store."""
        process = await asyncio.create_subprocess_exec(
            *worker_command("touchflow.send.dispatch_worker"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        worker = cls(process)
        try:
            root = str(project.config.root)
            await worker._ask(("init", root, str(store), project.digest, signer))
        except BaseException:
            await worker.aclose()
            raise
        return worker

    @property
    def pid(self) -> int:
        return self._process.pid

    async def prepare(
        self, project: Project, rows: Sequence[OutboxRow], now: datetime
    ) -> list[Prepared]:
        """``touchflow.send.batch.prepare`` in the worker; raises ``WorkerError`` if it cannot."""
        packed = [_ROWS.pack(row) for row in rows]
        done: list[_PackedPrepared] = await self._ask(("prepare", project.digest, packed, now))
        return [_unpack_prepared(item) for item in done]

    async def _ask(self, request: tuple[Any, ...]) -> Any:
        async with self._lock:
            stdin, stdout = self._process.stdin, self._process.stdout
            assert stdin is not None and stdout is not None
            try:
                data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.write(_HEADER.pack(len(data)) + data)
                await stdin.drain()
                async with asyncio.timeout(_REPLY_TIMEOUT):
                    (size,) = _HEADER.unpack(await stdout.readexactly(_HEADER.size))
                    status, payload = pickle.loads(await stdout.readexactly(size))
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                raise WorkerError(f"the worker process stopped answering ({exc!r})") from None
            except Exception as exc:  # what cannot be pickled, or unpickled
                raise WorkerError(f"cannot talk to the worker process ({exc!r})") from None
        if status == "stale":
            raise StaleProject(payload)
        if status != "ok":
            raise WorkerError(payload)
        return payload

    async def aclose(self) -> None:
        """Close its stdin (it exits on its own), or kill it if it does not."""
        process = self._process
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


class Preparer:
    """Prepares batches in the worker process once a backlog makes one worth starting,
    and here (``touchflow.send.batch``) until it is up, or if it fails or is not wanted."""

    def __init__(self, store: Store, *, signer: DkimSigner | None, use: bool | None) -> None:
        self._store = store
        self._signer = signer
        self._use = use  # None: as daemon.worker_process says
        self._starting: asyncio.Task[Worker] | None = None  # starting, or started
        self._failed = -_PAUSE  # time.monotonic() of the last failure

    @property
    def ready(self) -> bool:
        return self._worker() is not None

    @property
    def worker(self) -> Worker | None:
        """The worker process, once it is up."""
        return self._worker()

    def want(self, project: Project) -> None:
        """There is a backlog: start the worker (batches are prepared here meanwhile)."""
        use = project.config.daemon.worker_process if self._use is None else self._use
        if not use or self._starting is not None or project.digest is None:
            return
        if time.monotonic() - self._failed < _PAUSE:
            return
        start = Worker.start(project, store=self._store.location, signer=self._signer)
        self._starting = asyncio.create_task(start)

    async def prepare(
        self, project: Project, rows: Sequence[OutboxRow], now: datetime
    ) -> list[Prepared]:
        worker = self._worker()
        if worker is not None:
            try:
                return await worker.prepare(project, rows, now)
            except StaleProject:
                pass  # it loaded other files than the daemon runs: a reload is under way
            except WorkerError as exc:
                logs.log.warning("the worker process failed; preparing in the daemon: %s", exc)
                await self.aclose()
                self._failed = time.monotonic()
        return await prepare(project, self._store, rows, now=now, signer=self._signer)

    def _worker(self) -> Worker | None:
        task = self._starting
        if task is None or not task.done():
            return None
        if task.cancelled() or task.exception() is not None:
            self._starting = None
            self._failed = time.monotonic()
            error = "cancelled" if task.cancelled() else task.exception()
            logs.log.warning(
                "the worker process did not start (%s); preparing in the daemon", error
            )
            return None
        return task.result()

    async def aclose(self) -> None:
        task, self._starting = self._starting, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        try:
            worker = await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are being cancelled ourselves, not just the start
            return  # it never started; start() cleaned up after itself
        except Exception:
            return
        await worker.aclose()


# --- the worker's side ------------------------------------------------------------


class _Server:
    def __init__(self) -> None:
        self.root: Path | None = None
        self.project: Project | None = None
        self.store: Store | None = None
        self.signer: DkimSigner | None = None

    async def handle(self, request: tuple[Any, ...]) -> tuple[str, Any]:
        try:
            if request[0] == "init":
                return await self._init(*request[1:])
            return await self._prepare(*request[1:])
        except StaleProject as exc:
            return "stale", str(exc)
        except Exception:  # the daemon prepares the batch itself, and meets it there
            return "error", traceback.format_exc()

    async def _init(
        self, root: str, store: str, digest: str | None, signer: DkimSigner | None
    ) -> tuple[str, Any]:
        self.root = Path(root)
        self._load(digest)
        self.store = await open_store(store)
        self.signer = signer
        return "ok", None

    async def _prepare(
        self, digest: str | None, packed: list[tuple[Any, ...]], now: datetime
    ) -> tuple[str, Any]:
        assert self.store is not None
        project = self.project
        if project is None or project.digest != digest:
            project = self._load(digest)
        rows = [_ROWS.unpack(values) for values in packed]
        done = await prepare(project, self.store, rows, now=now, signer=self.signer)
        return "ok", [_pack_prepared(item) for item in done]

    def _load(self, digest: str | None) -> Project:
        assert self.root is not None
        project: Project | None
        try:
            # As the daemon loads it: with the unsubscribe links its messages carry (the
            # worker inherits the daemon's environment, and so its secret).
            project = load_with_links(self.root, os.environ)
        except ProblemsError:  # changed again, into something that does not validate
            project = None
        if project is None or digest is None or project.digest != digest:
            raise StaleProject("the project's files changed since the daemon loaded them")
        self.project = project
        return project

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()


def _read(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None  # the daemon closed the pipe: it stopped, or it is gone
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None  # gone in the middle of a request
    return pickle.loads(data)


def main() -> None:
    # Ctrl-C and SIGTERM are the daemon's to handle; this process ends when the daemon
    # closes the pipe (or dies, which closes it too).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries the replies: nothing else may print there
    server = _Server()
    loop = asyncio.new_event_loop()
    try:
        while (request := _read(requests)) is not None:
            reply = loop.run_until_complete(server.handle(request))
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
            replies.write(_HEADER.pack(len(data)) + data)
            replies.flush()
    except BrokenPipeError:
        pass  # the daemon is gone
    finally:
        loop.run_until_complete(server.close())
        loop.close()


if __name__ == "__main__":
    main()
