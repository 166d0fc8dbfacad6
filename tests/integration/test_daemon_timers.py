"""The daemon's timer listeners: missed and failed runs are logged, whole."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from daemon_support import inquiry, sample_store, write_project

from touchflow.channels.maildir import MaildirChannel
from touchflow.clock import Clock
from touchflow.project import load_project_checked
from touchflow.send import daemon_planning as daemon_module
from touchflow.send.daemon import Daemon


def test_a_failed_or_missed_timer_run_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from touchflow.send.daemon_timers import TimerLog

    told = TimerLog()  # the daemon's timers' listener
    when = datetime(2026, 11, 23, 8, tzinfo=UTC)
    # APScheduler 3 hands the traceback over as text, not as a traceback object.
    failed = JobExecutionEvent(
        EVENT_JOB_ERROR, "plan", "default", when,
        exception=RuntimeError("disk full"), traceback="Traceback (most recent call last): …",
    )  # fmt: skip
    missed = JobExecutionEvent(EVENT_JOB_MISSED, "plan", "default", when)
    with caplog.at_level(logging.WARNING, logger="touchflow"):
        told(failed)
        told(missed)
    messages = [r.getMessage() for r in caplog.records]
    assert any("timer plan failed: RuntimeError('disk full')" in m for m in messages)
    assert any("Traceback (most recent call last)" in m for m in messages)
    assert any("timer plan missed its run at 2026-11-23 08:00:00+00:00" in m for m in messages)


@pytest.mark.parametrize(
    ("changed", "plans"),
    [
        pytest.param(3, [None], id="more-than-the-limit-changed"),
        pytest.param(2, [2, None], id="a-few-changed"),
    ],
)
async def test_a_start_up_whose_re_plan_covered_everyone_plans_everyone_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changed: int, plans: list[int | None]
) -> None:
    # Above the limit (here 2 instead of 5,000) the changed customers' re-plan is a full
    # plan reaching as far back and ahead as the start-up's own full plan: not run twice.
    monkeypatch.setattr(daemon_module, "_FULL_REPLAN_ABOVE", 2)
    customers = [{"id": f"c{i}", "email": f"c{i}@example.com"} for i in range(changed)]
    events = [inquiry(i, customer=f"c{i}") for i in range(changed)]
    project = load_project_checked(write_project(tmp_path, customers=customers, events=events))
    now = datetime(2026, 11, 23, 8, tzinfo=UTC)
    runs: list[int | None] = []  # customers asked for by each plan: None is everyone
    plan_into_outbox = daemon_module.plan_into_outbox

    async def counted(*args: Any, **kwargs: Any) -> Any:
        ids = kwargs.get("customer_ids")
        runs.append(None if ids is None else len(ids))
        return await plan_into_outbox(*args, **kwargs)

    share_out = daemon_module.share_out

    async def shared(*args: Any, **kwargs: Any) -> Any:  # the full plan, shared out
        runs.append(None)
        return await share_out(*args, **kwargs)

    monkeypatch.setattr(daemon_module, "plan_into_outbox", counted)
    monkeypatch.setattr(daemon_module, "share_out", shared)
    async with sample_store(project, now) as store:
        daemon = Daemon(
            project=project,
            store=store,
            channel=MaildirChannel(tmp_path / "m"),
            clock=Clock.starting_at(now),
        )
        await daemon.start_up()
        planned_until = await store.get_meta(daemon_module.PLANNED_UNTIL)
    assert runs == plans
    assert planned_until is not None  # where the next full plan starts: the horizon reached
    ahead = datetime.fromisoformat(planned_until) - (now + project.config.daemon.horizon)
    assert timedelta(0) <= ahead < timedelta(seconds=5)  # the clock runs on from `now`


def test_runs_skipped_in_a_row_are_said_once_and_counted_when_the_timer_runs_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The watch fires every few seconds; a full plan of a minute skips it each time.
    from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES

    from touchflow.send.daemon_timers import TimerLog

    told = TimerLog()
    when = datetime(2026, 11, 23, 8, tzinfo=UTC)
    with caplog.at_level(logging.INFO, logger="touchflow"):
        for _ in range(30):
            told(JobExecutionEvent(EVENT_JOB_MAX_INSTANCES, "watch", "default", when))
        told(JobExecutionEvent(EVENT_JOB_EXECUTED, "watch", "default", when))
        told(JobExecutionEvent(EVENT_JOB_EXECUTED, "watch", "default", when))
        told(JobExecutionEvent(EVENT_JOB_MAX_INSTANCES, "watch", "default", when))
    messages = [r.getMessage() for r in caplog.records]
    assert [m.split(":")[0] for m in messages] == [
        "timer watch skipped", "timer watch runs again, after 30 runs skipped",
        "timer watch skipped",
    ]  # fmt: skip


def test_apschedulers_own_line_for_each_skipped_run_is_left_out() -> None:
    from touchflow.send.daemon_timers import SKIP_FILTER

    own = logging.LogRecord(
        "apscheduler.scheduler", logging.WARNING, __file__, 1,
        'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
        ("watch", 1), None,
    )  # fmt: skip
    other = logging.LogRecord("apscheduler.scheduler", logging.WARNING, __file__, 1,
                              "Scheduler started", (), None)  # fmt: skip
    assert (SKIP_FILTER.filter(own), SKIP_FILTER.filter(other)) == (False, True)
