"""The daemon's timers: three APScheduler interval jobs (plan, watch, reclaim), never one a send.

APScheduler 3 runs them in the event loop from an in-memory job store; the store,
not the scheduler, says what is due (``touchflow.send.dispatch_loop``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from touchflow import logs
from touchflow.config.daemon import DaemonSettings

if TYPE_CHECKING:
    # Imported where the timers start: `run --once` starts none and skips the import.
    from apscheduler.events import JobExecutionEvent
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

_JOB = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}

Job = Callable[[], Awaitable[None]]


def start_timers(
    settings: DaemonSettings,
    *,
    plan: Job,
    watch: Job,
    reclaim: Job,
    first_plan: datetime,
    listener: Callable[[JobExecutionEvent], None],
) -> AsyncIOScheduler:
    """Start the three timers; ``plan`` first runs at ``first_plan`` (wall time)."""
    from apscheduler.events import (
        EVENT_JOB_ERROR,
        EVENT_JOB_EXECUTED,
        EVENT_JOB_MAX_INSTANCES,
        EVENT_JOB_MISSED,
    )
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = AsyncIOScheduler(timezone=UTC)
    logging.getLogger("apscheduler.scheduler").addFilter(SKIP_FILTER)  # once, however often
    events = EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_EXECUTED
    scheduler.add_listener(listener, events)
    scheduler.add_job(
        plan,
        "interval",
        seconds=_s(settings.replan_every),
        id="plan",
        next_run_time=first_plan,  # at once, then every period
        **_JOB,
    )
    scheduler.add_job(watch, "interval", seconds=_s(settings.watch_every), id="watch", **_JOB)
    scheduler.add_job(
        reclaim,
        "interval",
        seconds=_s(settings.claim_timeout) / 2,
        id="reclaim",
        **_JOB,
    )
    scheduler.start()
    return scheduler


def next_runs(scheduler: AsyncIOScheduler, offset: timedelta) -> dict[str, datetime | None]:
    """Each timer and when it fires next, ``offset`` added (wall time to daemon time)."""
    return {
        job.id: job.next_run_time + offset if job.next_run_time else None
        for job in scheduler.get_jobs()
    }


class TimerLog:
    """The timers' runs that went wrong, as log lines. A run skipped because the last one
    is still going (the watch, every few seconds, during a full plan of a minute) is
    said once, and how many were skipped when the timer runs again: not a line a tick."""

    def __init__(self) -> None:
        self._skipped: dict[str, int] = {}  # timer → runs skipped in a row

    def __call__(self, event: JobExecutionEvent) -> None:
        from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

        job = event.job_id
        if event.code == EVENT_JOB_EXECUTED:
            skipped = self._skipped.pop(job, 0)
            if skipped > 1:
                logs.log.info("timer %s runs again, after %d runs skipped", job, skipped)
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self._skipped[job] = self._skipped.get(job, 0) + 1
            if self._skipped[job] == 1:
                logs.log.warning(
                    "timer %s skipped: its previous run is still going (the next skips are "
                    "counted, and told when it runs again)", job,
                )  # fmt: skip
        elif event.code == EVENT_JOB_MISSED:
            logs.log.warning("timer %s missed its run at %s", job, event.scheduled_run_time)
        else:
            # APScheduler hands the traceback over as text.
            logs.log.error("timer %s failed: %r\n%s", job, event.exception, event.traceback or "")


class _OwnSkipLines(logging.Filter):
    """APScheduler's own line for each skipped run: TimerLog tells them instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


SKIP_FILTER = _OwnSkipLines()


def _s(period: timedelta) -> float:
    return period.total_seconds()
