"""The dispatch loop in-process: a failed pass is logged and tried again after a pause.

A real store (a SQLite file) and a real dispatcher (into a Maildir); only the first
drain is made to fail, as a full disk or a broken store would make it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from daemon_support import ACK_ONLY, ANA, inquiry, maildir_messages, sample_store, write_project

from touchflow.channels.maildir import MaildirChannel
from touchflow.clock import Clock
from touchflow.project import load_project_checked
from touchflow.send import dispatch_loop
from touchflow.send.daemon import Daemon
from touchflow.send.dispatch import Tally
from touchflow.store.sqlite import SqliteStore


@asynccontextmanager
async def started_daemon(root: Path) -> AsyncIterator[tuple[SqliteStore, Daemon]]:
    """The project's daemon, started up (not its timers) at 08:00, when the inquiry that
    came at 07:30 has its acknowledgement due."""
    project = load_project_checked(root)
    now = datetime(2026, 11, 23, 8, tzinfo=UTC)
    async with sample_store(project, now) as store:
        daemon = Daemon(
            project=project,
            store=store,
            channel=MaildirChannel(root / ".touchflow" / "maildir"),
            clock=Clock.starting_at(now),
        )
        await daemon.start_up()
        yield store, daemon


async def test_a_failed_dispatch_is_retried_after_a_pause_not_at_once_and_not_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(dispatch_loop, "FAILED_PAUSE", 0.3)
    root = write_project(tmp_path, customers=[ANA], events=[inquiry(1)], rules=ACK_ONLY)
    async with started_daemon(root) as (store, daemon):
        drains: list[float] = []
        drain = daemon.dispatcher.drain

        async def fails_first(tally: Tally | None = None) -> Tally:
            drains.append(time.monotonic())
            if len(drains) == 1:
                raise OSError(28, "No space left on device")
            return await drain(tally)

        monkeypatch.setattr(daemon.dispatcher, "drain", fails_first)
        loop = dispatch_loop.DispatchLoop(
            dispatcher=daemon.dispatcher, store=store, clock=daemon.clock
        )
        with caplog.at_level(logging.ERROR, logger="touchflow"):
            loop.start()
            for _ in range(50):
                await asyncio.sleep(0.02)
                loop.wake()  # wake-ups during the pause do not cut it short
            await loop.stop(grace=5)
    assert len(drains) == 2, drains
    assert drains[1] - drains[0] >= 0.3
    assert [m["Subject"] for m in maildir_messages(root)] == ["We got your question: Hello"]
    (failed,) = [r for r in caplog.records if "dispatch failed" in r.getMessage()]
    assert failed.getMessage() == "dispatch failed; trying again in 0.3 s"
    assert failed.exc_info is not None and "No space left" in str(failed.exc_info[1])


async def test_a_drain_cancelled_at_shutdown_has_cleaned_up_when_stop_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The daemon takes claims back and closes the store right after stop(): a drain's
    # clean-up (releasing its claims) must not land after that.
    root = write_project(tmp_path, customers=[ANA], events=[inquiry(1)], rules=ACK_ONLY)
    async with started_daemon(root) as (store, daemon):
        steps: list[str] = []

        async def hangs(tally: Tally | None = None) -> Tally:
            try:
                await asyncio.sleep(60)  # a relay that never answers
            finally:
                await asyncio.sleep(0.05)  # releasing its claims takes a moment
                steps.append("cleaned up")
            raise AssertionError("not reached")

        monkeypatch.setattr(daemon.dispatcher, "drain", hangs)
        loop = dispatch_loop.DispatchLoop(
            dispatcher=daemon.dispatcher, store=store, clock=daemon.clock
        )
        loop.start()
        await asyncio.sleep(0.1)
        await loop.stop(grace=0.1)
        steps.append("stop returned")
    assert steps == ["cleaned up", "stop returned"]
