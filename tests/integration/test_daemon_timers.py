"""The daemon's timer listeners: missed and failed runs are logged, whole."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from daemon_support import write_project

from touchflow.channels.maildir import MaildirChannel
from touchflow.clock import Clock
from touchflow.daemon import Daemon
from touchflow.project import load_project_checked
from touchflow.store.sqlite import SqliteStore


async def test_a_failed_or_missed_timer_run_is_logged_with_its_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = write_project(tmp_path, customers=[])
    project = load_project_checked(root)
    async with await SqliteStore.open(project.config.store_file()) as store:
        daemon = Daemon(
            project=project, store=store, channel=MaildirChannel(tmp_path / "m"), clock=Clock()
        )
        when = datetime(2026, 11, 23, 8, tzinfo=UTC)
        # APScheduler 3 hands the traceback over as text, not as a traceback object.
        failed = JobExecutionEvent(
            EVENT_JOB_ERROR, "plan", "default", when,
            exception=RuntimeError("disk full"), traceback="Traceback (most recent call last): …",
        )  # fmt: skip
        missed = JobExecutionEvent(EVENT_JOB_MISSED, "plan", "default", when)
        with caplog.at_level(logging.WARNING, logger="touchflow"):
            daemon._on_job_event(failed)
            daemon._on_job_event(missed)
    messages = [r.getMessage() for r in caplog.records]
    assert any("timer plan failed: RuntimeError('disk full')" in m for m in messages)
    assert any("Traceback (most recent call last)" in m for m in messages)
    assert any("timer plan missed its run at 2026-11-23 08:00:00+00:00" in m for m in messages)
