"""The dispatcher's worker process: plans, renders and composes claimed batches.

The daemon's event loop speaks SMTP to the server and SQL to the store; the
CPU work in between (a fresh plan per batch, Jinja, MIME, DKIM) runs here, on
the machine's other core (docs/decisions.md). The worker reads the store and
writes nothing: every outcome is recorded by the daemon, which also logs it.

The daemon starts it as ``python -P -m touchflow.dispatch_worker`` and speaks
over its stdin and stdout: length-prefixed pickles, one request, one reply.
The worker loads the project itself and refuses a batch if what it loaded is
not byte for byte what the daemon runs (``Project.digest``); the daemon then
prepares that batch itself. It exits when its stdin closes, so it never
outlives the daemon, not even a SIGKILLed one.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import struct
import sys
import traceback
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from touchflow.dkim import DkimSigner
from touchflow.errors import TouchflowError
from touchflow.models import OutboxRow
from touchflow.prepare import Prepared, prepare
from touchflow.project import Project, load_project_checked
from touchflow.store.sqlite import SqliteStore

_HEADER = struct.Struct("!I")
_REPLY_TIMEOUT = 120.0  # seconds; a worker that takes longer is stopped and not used again


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
    async def start(cls, project: Project, *, store: Path, signer: DkimSigner | None) -> Worker:
        """Start the process and wait until it has loaded the project and opened the store."""
        package_root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, path]))}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-P", "-m", "touchflow.dispatch_worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        worker = cls(process)
        try:
            root = str(project.config.root)
            await worker._ask(("init", root, str(store), project.digest, signer))
        except BaseException:
            await worker.aclose()
            raise
        return worker

    async def prepare(
        self, project: Project, rows: Sequence[OutboxRow], now: datetime
    ) -> list[Prepared]:
        """``touchflow.prepare.prepare`` in the worker; raises ``WorkerError`` if it cannot."""
        done: list[Prepared] = await self._ask(("prepare", project.digest, list(rows), now))
        return done

    async def _ask(self, request: tuple[Any, ...]) -> Any:
        async with self._lock:
            stdin, stdout = self._process.stdin, self._process.stdout
            assert stdin is not None and stdout is not None
            data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
            try:
                stdin.write(_HEADER.pack(len(data)) + data)
                await stdin.drain()
                async with asyncio.timeout(_REPLY_TIMEOUT):
                    (size,) = _HEADER.unpack(await stdout.readexactly(_HEADER.size))
                    status, payload = pickle.loads(await stdout.readexactly(size))
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                raise WorkerError(f"the worker process stopped answering ({exc!r})") from None
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


# --- the worker's side ------------------------------------------------------------


class _Server:
    def __init__(self) -> None:
        self.root: Path | None = None
        self.project: Project | None = None
        self.store: SqliteStore | None = None
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
        self.store = await SqliteStore.open(Path(store))
        self.signer = signer
        return "ok", None

    async def _prepare(
        self, digest: str | None, rows: list[OutboxRow], now: datetime
    ) -> tuple[str, Any]:
        assert self.store is not None
        project = self.project
        if project is None or project.digest != digest:
            project = self._load(digest)
        done = await prepare(project, self.store, rows, now=now, signer=self.signer)
        return "ok", done

    def _load(self, digest: str | None) -> Project:
        assert self.root is not None
        project = load_project_checked(self.root)
        if digest is None or project.digest != digest:
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
    return pickle.loads(stream.read(size))


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
