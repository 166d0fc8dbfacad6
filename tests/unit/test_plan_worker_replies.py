"""The daemon reading its planning workers' replies: one it cannot read (a stray write on
the worker's stdout, a reply of another shape) hands the worker's range back to the
daemon; the plan never waits on it forever."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any, cast

import pytest

from touchflow.send.plan_worker import HEADER
from touchflow.send.plan_workers import Leftover, PlanWorkers, _Process


class _Stdout:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def readexactly(self, n: int) -> bytes:
        head, self.data = self.data[:n], self.data[n:]
        if len(head) < n:
            raise asyncio.IncompleteReadError(head, n)
        return head


class _Worker:
    """What the daemon reads of a worker process: only its stdout (requests go nowhere)."""

    pid = 1
    stdin = None

    def __init__(self, data: bytes) -> None:
        self.stdout = _Stdout(data)


def framed(data: bytes) -> bytes:
    return HEADER.pack(len(data)) + data


async def quiet(request: tuple[Any, ...]) -> None:
    """Instead of writing a request to the worker's stdin."""


@pytest.mark.parametrize(
    "second",
    [
        framed(b"Traceback (most recent call last):"),  # printed on fd 1, not a pickle
        framed(pickle.dumps(("ok", ("c1", 3)))),  # a page of another shape
    ],
    ids=["not-a-pickle", "other-shape"],
)
async def test_a_reply_the_daemon_cannot_read_hands_the_range_back(second: bytes) -> None:
    process = _Process(cast(Any, _Worker(framed(pickle.dumps(("ok", None))) + second)))
    process.send = quiet  # type: ignore[method-assign]
    workers = PlanWorkers([(process, ("", None))])
    async with asyncio.timeout(10):  # it used to wait for the feed's end forever
        found = [item async for item in workers.pages(lambda: 0)]
    assert len(found) == 1 and isinstance(found[0], Leftover)
    assert found[0].ids == ("", None)
