"""The daemon reading its planning workers' replies: one it cannot read (a stray write on
the worker's stdout, a reply of another shape) hands the worker's range back to the
daemon, which plans it itself; the plan never waits on it forever."""

from __future__ import annotations

import asyncio
import logging
import pickle
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from daemon_support import write_project

from touchflow.models import Customer, Window
from touchflow.project import load_project_checked
from touchflow.send.plan_lanes import Part, RunSpec, WorkerLane
from touchflow.send.plan_share import share_out
from touchflow.send.plan_worker import HEADER
from touchflow.send.plan_workers import WorkerProcess
from touchflow.send.replan import PlanState
from touchflow.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


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
async def test_a_reply_the_daemon_cannot_read_hands_the_range_back(
    second: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = load_project_checked(write_project(tmp_path, customers=[]))
    window = Window(start=NOW, end=NOW + timedelta(days=2))
    spec = RunSpec.new(window=window, now=NOW, digest=project.digest)
    async with await SqliteStore.open(project.config.store_file()) as store:
        await store.upsert_customers([Customer(id=f"c{i}") for i in range(3)])
        await share_out(store, spec)
        state = PlanState(window=window, now=NOW, sent_since=NOW, page_size=100)
        part = Part(project=project, store=store, spec=spec, me="me", turn=nullcontext(),
                    state=state, clock=lambda: NOW)  # fmt: skip
        process = WorkerProcess(cast(Any, _Worker(framed(pickle.dumps(("ok", None))) + second)))
        process.send = quiet  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING, logger="touchflow"):
            async with asyncio.timeout(10):  # it used to wait for the feed's end forever
                await WorkerLane(part, process).take_ranges()
        assert await store.plan_ranges_left(spec.id) == 0
        assert state.total.customers == 3  # planned here
    (line,) = [m for m in caplog.messages if "planning its range here" in m]
    assert "could not be read" in line
