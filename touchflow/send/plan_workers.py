"""A worker process of the daemon's full plan, spoken to over its stdin and stdout.

Reading a page's facts and planning it are most of a full plan's time and need
nothing but the customers' own facts, so each planning lane of the daemon
(``touchflow.send.plan_share``) has a worker process (``touchflow.send.plan_worker``),
one per core, that reads and plans the pages of the id ranges the lane takes, while
the daemon does the rest: write the outbox, a page per transaction, under its
planning turn. A request goes in as a length-prefixed pickle; a reply comes back so.
"""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

from touchflow.errors import TouchflowError
from touchflow.send.plan_worker import HEADER
from touchflow.send.worker_boot import worker_command

_REPLY_TIMEOUT = 600.0  # seconds for one page (a page takes a few)
_EXIT_WAIT = 2.0  # seconds a worker gets to exit once its stdin closes, before it is killed


class PlanWorkerError(TouchflowError):
    """A worker process stopped answering, or could not be talked to."""


class WorkerProcess:
    """One worker process: requests go in on its stdin, replies come out of its stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> WorkerProcess:
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
