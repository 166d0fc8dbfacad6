"""`touchflow run`: the daemon. APScheduler keeps time; the store keeps the truth.

Three timer jobs, never one job per send:

- ``plan``: every ``daemon.replan_every``, plan [now, now + horizon) into the
  outbox (after downtime, from where planning stopped, at most ``catch_up`` back);
- ``watch``: every ``daemon.watch_every``, re-plan customers whose facts changed
  (the store's ``changes`` table), reload rules/templates that changed on disk and
  have the dispatch loop look at the store's next due row;
- ``reclaim``: take back claims that outlived ``daemon.claim_timeout``.

Beside them the dispatch loop (``touchflow.send.dispatch_loop``) sleeps until the next
ready row or a wake-up, and drains again at once when rows became ready meanwhile.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from touchflow import logs
from touchflow.channels import Channel
from touchflow.clock import Clock
from touchflow.errors import ProblemsError
from touchflow.messages.dkim import DkimSigner
from touchflow.models import Window
from touchflow.project import Project, load_project_checked
from touchflow.send.dispatch import Dispatcher, Tally
from touchflow.send.dispatch_loop import DispatchLoop
from touchflow.send.replan import plan_into_outbox
from touchflow.store import Store

PLANNED_UNTIL = "daemon_planned_until"  # meta: end of the last full plan's window
_FULL_REPLAN_ABOVE = 5000  # changed customers; more than this: plan everyone
_JOB = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    tally: Tally
    next_ready: datetime | None


class Service(Protocol):
    """Something that runs beside the timers (the HTTP interface), from start to stop."""

    async def start(self, stop_daemon: Callable[[], None]) -> None:
        """Start serving; call ``stop_daemon`` if serving ends on its own."""
        ...

    async def stop(self) -> None: ...


class Daemon:
    def __init__(
        self,
        *,
        project: Project,
        store: Store,
        channel: Channel,
        clock: Clock,
        signer: DkimSigner | None = None,
        load: Callable[[Path], Project] = load_project_checked,
    ) -> None:
        self.project = project
        self._load = load  # how a reload reads the project (with the environment's secrets)
        self.store = store
        self.clock = clock
        self.dispatcher = Dispatcher(
            store=store,
            channel=channel,
            project=lambda: self.project,
            clock=clock.now,
            signer=signer,
        )
        self._files = fingerprint(project.config.root)
        self._scheduler: AsyncIOScheduler | None = None
        self._stop = asyncio.Event()
        self._dispatch = DispatchLoop(dispatcher=self.dispatcher, store=store, clock=clock)
        # Plans read the outbox, then write it: two at once could write older facts last.
        self._planning = asyncio.Lock()  # a page of a full plan, changes, an erasure
        self._full_plan = asyncio.Lock()  # one full plan at a time
        self._reloading = asyncio.Lock()
        self._tasks: set[asyncio.Task[bool]] = set()  # from signals, until done
        self._services: Sequence[Service] = ()
        # The end of the window of the last re-plan of changes, if it planned everyone.
        self._planned_everyone: datetime | None = None

    # --- the two ways to run ---------------------------------------------------

    async def run_once(self) -> Summary:
        """Plan, send everything that is ready, and return (cron-style deployments)."""
        await self._warm_up()
        try:
            await self.start_up()
        except BaseException:
            await self.dispatcher.preparer.aclose()
            raise
        tally = await self.dispatcher.drain()
        return Summary(tally=tally, next_ready=await self.store.next_ready_at())

    async def run_forever(
        self, *, install_signals: bool = True, services: Sequence[Service] = ()
    ) -> None:
        """Run until SIGTERM/SIGINT (or ``stop()``), then finish in-flight sends and return."""
        if install_signals:
            self._install_signals()
        # Send what is already due first (after a crash: the claims taken back), then plan:
        # every row is checked against a fresh plan of its customer before it goes out.
        await self._take_back_claims()
        scheduler = self._scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_listener(
            self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )
        settings = self.project.config.daemon
        scheduler.add_job(
            self._plan_job,
            "interval",
            seconds=_s(settings.replan_every),
            id="plan",
            next_run_time=self.clock.to_wall(self.clock.now()),  # at once, then every period
            **_JOB,
        )
        scheduler.add_job(
            self._watch_job, "interval", seconds=_s(settings.watch_every), id="watch", **_JOB
        )
        scheduler.add_job(
            self._reclaim_job,
            "interval",
            seconds=_s(settings.claim_timeout) / 2,
            id="reclaim",
            **_JOB,
        )
        scheduler.start()
        self._dispatch.start()
        self._services = services
        for service in services:
            await service.start(self.stop)
        logs.log.info("touchflow is running; dispatching with %s", self.dispatcher.channel.name)
        await self._stop.wait()
        await self._shut_down()

    def exclusive(self) -> AbstractAsyncContextManager[None]:
        """No planning run starts or writes while this is held (an erasure holds it)."""
        return self._planning

    def timers(self) -> dict[str, datetime | None] | None:
        """The scheduler's timers and when each fires next (daemon time); None if not running."""
        if self._scheduler is None or not self._scheduler.running or self.dispatcher.stopping:
            return None
        timers = {
            job.id: job.next_run_time + self.clock.offset if job.next_run_time else None
            for job in self._scheduler.get_jobs()
        }
        if self._dispatch.next_at is not None:  # asleep until a due row
            timers["dispatch"] = self._dispatch.next_at
        return timers

    def stop(self) -> None:
        """Stop claiming; in-flight sends get ``daemon.shutdown_grace`` to finish."""
        self.dispatcher.stopping = True
        self._dispatch.wake()  # out of its sleep, to see that it stops
        self._stop.set()

    # --- start-up -------------------------------------------------------------------

    async def start_up(self) -> int:
        """Take back claims of a dead predecessor, then plan what changed and what is ahead."""
        await self._take_back_claims()
        changed = await self.plan_changes()
        if self._planned_everyone is not None and await self._caught_up():
            # So many customers changed that everyone was planned, from further back than
            # the full plan looks and as far ahead: a second full plan would add nothing.
            await self.store.set_meta(PLANNED_UNTIL, self._planned_everyone.isoformat())
            return changed
        return changed + await self.plan_ahead()

    async def _caught_up(self) -> bool:
        """Whether the last full plan ended within ``daemon.catch_up`` (or there was none)."""
        last = await self.store.get_meta(PLANNED_UNTIL)
        catch_up = self.project.config.daemon.catch_up
        return last is None or datetime.fromisoformat(last) >= self.clock.now() - catch_up

    async def _warm_up(self) -> None:
        """When at least a batch of customers changed, a backlog is likely: start the
        dispatcher's worker process now, so that it is ready when planning ends."""
        last, customers = await self.store.pending_changes(limit=_FULL_REPLAN_ABOVE)
        if last and (customers is None or len(customers) >= self.dispatcher.batch_size()):
            self.dispatcher.preparer.want(self.project)

    async def _take_back_claims(self) -> None:
        stale = await self.store.reclaim(now=self.clock.now(), every_claim=True)
        if stale:
            logs.log.warning(
                "took back %d touchpoint(s) a previous run had claimed but not finished "
                "(it stopped abruptly); they are sent again, with the same Message-ID",
                len(stale),
            )

    async def plan_ahead(self) -> int:
        """The full plan: everyone, [start, now + horizon). It takes the planning lock a
        page of customers at a time, so changed customers are re-planned in between."""
        async with self._full_plan:
            return await self._plan_ahead()

    async def _plan_ahead(self) -> int:
        now = self.clock.now()
        settings = self.project.config.daemon
        start = now
        last = await self.store.get_meta(PLANNED_UNTIL)
        if last is not None:
            start = min(now, datetime.fromisoformat(last))
        if start < now - settings.catch_up:
            logs.log.warning(
                "planning stopped at %s, longer ago than daemon.catch_up (%s): "
                "touchpoints due before %s are not planned",
                start.isoformat(),
                settings.catch_up,
                (now - settings.catch_up).isoformat(),
            )
            start = now - settings.catch_up
        window = Window(start=start, end=now + settings.horizon)
        run = await plan_into_outbox(
            self.project, self.store, window=window, now=now, turn=self._planning
        )
        await self.store.set_meta(PLANNED_UNTIL, window.end.isoformat())
        logs.log.info(
            "planned %d customers, %s to %s: %d touchpoints, %d new, %d changed (%.2f s)",
            run.customers, _t(window.start), _t(window.end), run.touchpoints,
            run.inserted, run.updated, run.seconds, extra=_plan_fields("all", run.seconds),
        )  # fmt: skip
        return run.touchpoints

    async def plan_changes(self) -> int:
        """Re-plan customers whose facts changed, looking back ``catch_up`` for late events."""
        async with self._planning:
            return await self._plan_changes()

    async def _plan_changes(self) -> int:
        self._planned_everyone = None
        last, customers = await self.store.pending_changes(limit=_FULL_REPLAN_ABOVE)
        if not last:
            return 0
        now = self.clock.now()
        settings = self.project.config.daemon
        window = Window(start=now - settings.catch_up, end=now + settings.horizon)
        run = await plan_into_outbox(
            self.project, self.store, window=window, now=now, customer_ids=customers
        )
        await self.store.drop_changes(last)
        self._planned_everyone = window.end if customers is None else None
        logs.log.info(
            "re-planned %d changed customer(s): %d new, %d changed (%.2f s)",
            run.customers, run.inserted, run.updated, run.seconds,
            extra=_plan_fields("changed", run.seconds),
        )  # fmt: skip
        return run.touchpoints

    # --- timer jobs -----------------------------------------------------------------

    async def _plan_job(self) -> None:
        await self.plan_changes()
        await self.plan_ahead()
        await self.wake()

    async def _watch_job(self) -> None:
        await self.reload_if_changed()
        await self.plan_changes()
        # Also without changes: another process may have made a row ready without noting
        # a change (a script's UPDATE), or the wall clock jumped. One indexed MIN() a tick.
        await self.wake()

    async def _reclaim_job(self) -> None:
        # Our own claims are always finished by our dispatcher (every send has a
        # timeout): taking them back mid-batch would send them twice.
        taken = await self.store.reclaim(now=self.clock.now(), except_owner=self.dispatcher.owner)
        if taken:
            logs.log.warning("took back %d claim(s) older than daemon.claim_timeout", len(taken))
            await self.wake()

    async def wake(self) -> None:
        """Have the dispatch loop look at the store's next ready row: at once, or right
        after the dispatch under way (a row that became due meanwhile is not left waiting)."""
        self._dispatch.wake()

    # --- reload ---------------------------------------------------------------------

    async def reload_if_changed(self, *, force: bool = False) -> bool:
        """Swap in changed rules/templates if they validate; otherwise keep the old ones."""
        async with self._reloading:  # the watch timer and SIGHUP, one at a time
            return await self._reload(force=force)

    async def _reload(self, *, force: bool) -> bool:
        files = fingerprint(self.project.config.root)
        if files == self._files and not force:
            return False
        self._files = files
        try:
            fresh = await asyncio.to_thread(self._load, self.project.config.root)
        except ProblemsError as exc:
            for problem in exc.problems:
                logs.log.error(
                    "reload refused: %s", problem, extra={"tf": {"event": "reload_error"}}
                )
            logs.log.error("kept the rules and templates that were running; fix the above")
            return False
        _warn_restart_only(self.project, fresh)
        self.project = fresh  # one assignment: a dispatch sees the old or the new, whole
        logs.log.info(
            "reloaded %d rules and the templates; re-planning", len(fresh.rules),
            extra={"tf": {"event": "reload"}},
        )  # fmt: skip
        await self.plan_ahead()
        await self.wake()
        return True

    def _on_job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            logs.log.warning(
                "timer %s missed its run at %s", event.job_id, event.scheduled_run_time
            )
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            logs.log.warning("timer %s skipped: its previous run is still going", event.job_id)
        else:
            # APScheduler hands the traceback over as text.
            logs.log.error(
                "timer %s failed: %r\n%s", event.job_id, event.exception, event.traceback or ""
            )

    # --- stopping -------------------------------------------------------------------

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)

    def _on_hup(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload_if_changed(force=True))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _shut_down(self) -> None:
        logs.log.info("stopping: no new claims; waiting for sends in flight")
        assert self._scheduler is not None
        for service in reversed(self._services):
            await service.stop()
        await self._dispatch.stop(self.project.config.daemon.shutdown_grace.total_seconds())
        self._scheduler.shutdown(wait=False)
        released = await self.store.reclaim(now=self.clock.now(), every_claim=True)
        if released:
            logs.log.warning("%d send(s) did not finish in time; they are retried", len(released))
        logs.log.info("stopped")


def fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes of everything a reload reads: cheap enough to check often."""
    paths = [root / "touchflow.yaml"]
    for folder in ("rules", "message_templates"):
        paths += sorted(p for p in (root / folder).rglob("*") if p.is_file())
    found = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def _warn_restart_only(old: Project, new: Project) -> None:
    """The settings a reload cannot swap in: the channel, the store and the timers."""
    changed = [
        label
        for label, before, after in (
            ("delivery", old.config.delivery, new.config.delivery),
            ("store", old.config.store_path, new.config.store_path),
            ("http.host, http.port or turning http on or off", _listen(old), _listen(new)),
            ("daemon timer intervals (replan_every, watch_every, claim_timeout)",
             _intervals(old), _intervals(new)),
        )
        if before != after
    ]  # fmt: skip
    for label in changed:
        logs.log.warning(
            "touchflow.yaml: changes to %s take effect when the daemon restarts", label
        )


def _intervals(project: Project) -> tuple[timedelta, ...]:
    daemon = project.config.daemon
    return (daemon.replan_every, daemon.watch_every, daemon.claim_timeout)


def _listen(project: Project) -> tuple[object, ...] | None:
    http = project.config.http
    return None if http is None else (http.host, http.port)


def _plan_fields(scope: str, seconds: float) -> dict[str, dict[str, object]]:
    """The fields of a planning run's log line (the metrics read them)."""
    return {"tf": {"event": "plan", "scope": scope, "seconds": round(seconds, 6)}}


def _s(period: timedelta) -> float:
    return period.total_seconds()


def _t(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M")
