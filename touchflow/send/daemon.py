"""`touchflow run`: the daemon. APScheduler keeps time; the store keeps the truth.

Three timer jobs, never one job per send:

- ``plan``: every ``daemon.replan_every``, plan [now, now + horizon) into the
  outbox (after downtime, from where planning stopped, at most ``catch_up`` back);
- ``watch``: every ``daemon.watch_every``, re-plan customers whose facts changed
  (the store's ``changes`` table), reload rules/templates that changed on disk and
  have the dispatch loop look at the store's next due row;
- ``reclaim``: renew this daemon's claims, take back those of others that outlived
  ``daemon.claim_timeout`` or whose daemon is gone.

On a store several daemons share (PostgreSQL), every daemon claims and sends, and
only the one holding the lead plans (``touchflow.send.daemon_sharing``).

Beside them the dispatch loop (``touchflow.send.dispatch_loop``) sleeps until the next
ready row or a wake-up, and drains again at once when rows became ready meanwhile.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from touchflow import logs
from touchflow.channels import Channel
from touchflow.clock import Clock
from touchflow.messages.dkim import DkimSigner
from touchflow.project import Project, load_project_checked
from touchflow.send.daemon_planning import DaemonPlanning, LastPlan
from touchflow.send.daemon_reload import fingerprint, load_fresh
from touchflow.send.daemon_sharing import Sharing
from touchflow.send.daemon_timers import TimerLog, next_runs, start_timers
from touchflow.send.dispatch import Dispatcher, Tally
from touchflow.send.dispatch_loop import DispatchLoop
from touchflow.send.instance import Alone, Lead, Standing, new_instance_id
from touchflow.store import Store

if TYPE_CHECKING:  # imported by daemon_timers when the timers start (not for `run --once`)
    from apscheduler.schedulers.asyncio import AsyncIOScheduler


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
    """The one object callers run: timers, the dispatch loop, planning and reloads."""

    def __init__(
        self,
        *,
        project: Project,
        store: Store,
        channel: Channel,
        clock: Clock,
        signer: DkimSigner | None = None,
        load: Callable[[Path], Project] = load_project_checked,
        lead: Lead | None = None,
    ) -> None:
        self.project = project
        if lead is None:  # a daemon no lock holds (a test): alone, and planning
            lead = Alone(new_instance_id())
        self._load = load  # how a reload reads the project (with the environment's secrets)
        self.store = store
        self.clock = clock
        self.dispatcher = Dispatcher(
            store=store,
            channel=channel,
            project=lambda: self.project,
            clock=clock.now,
            signer=signer,
            owner=lead.instance,
        )
        self._files = fingerprint(project.config.root)
        self._scheduler: AsyncIOScheduler | None = None
        self._stop = asyncio.Event()
        self._dispatch = DispatchLoop(dispatcher=self.dispatcher, store=store, clock=clock)
        self._plans = DaemonPlanning(
            project=lambda: self.project, store=store, clock=clock,
            planner=lambda: self._sharing.planner(), me=lead.instance,
        )  # fmt: skip
        self._reloading = asyncio.Lock()
        self._tasks: set[asyncio.Task[bool]] = set()  # from signals, until done
        self._services: Sequence[Service] = ()
        self._sharing = Sharing(
            lead, store, clock, on_changes=self._replan_notified, on_ready=self._dispatch.wake,
            on_lead=self._plans.at_start, on_plan=self._plans.help,
        )  # fmt: skip

    @property
    def standing(self) -> Standing:
        """This daemon among the others of its store (/healthz, /metrics)."""
        return self._sharing.standing

    @property
    def last_plan(self) -> LastPlan | None:
        """This daemon's last full plan since it started (None: none yet)."""
        return self._plans.last_full

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
        await self._sharing.planner()
        self._scheduler = start_timers(
            self.project.config.daemon,
            plan=self._plan_job,
            watch=self._watch_job,
            reclaim=self._reclaim_job,
            first_plan=self.clock.to_wall(self.clock.now()),
            listener=TimerLog(),  # a missed, skipped or failed run: a log line
        )
        self._dispatch.start()
        self._sharing.start()
        self._services = services
        for service in services:
            await service.start(self.stop)
        logs.log.info(
            "touchflow is running as instance %s (%s); dispatching with %s",
            self.standing.instance, self.standing.role, self.dispatcher.channel.name,
        )  # fmt: skip
        await self._stop.wait()
        await self._shut_down()

    def exclusive(self) -> AbstractAsyncContextManager[None]:
        """No planning run starts or writes while this is held (an erasure holds it)."""
        return self._plans.exclusive

    def timers(self) -> dict[str, datetime | None] | None:
        """The scheduler's timers and when each fires next (daemon time); None if not running."""
        if self._scheduler is None or not self._scheduler.running or self.dispatcher.stopping:
            return None
        timers = next_runs(self._scheduler, self.clock.offset)
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
        """Take back claims of a dead predecessor, then plan what changed and what is ahead
        (if this daemon plans: on a shared store, the one holding the lead does)."""
        await self._take_back_claims()
        if not await self._sharing.planner():
            return 0
        return await self._plans.at_start()

    async def _warm_up(self) -> None:
        """When at least a batch of customers changed, a backlog is likely: start the
        dispatcher's worker process now, so that it is ready when planning ends."""
        if await self._plans.many_changed(self.dispatcher.batch_size()):
            self.dispatcher.preparer.want(self.project)

    async def _take_back_claims(self) -> None:
        stale = await self.store.reclaim(
            now=self.clock.now(), owners_gone=True, me=self.dispatcher.owner
        )
        if stale:
            logs.log.warning(
                "took back %d touchpoint(s) a previous run had claimed but not finished "
                "(it stopped abruptly); they are sent again, with the same Message-ID",
                len(stale),
            )

    async def plan_ahead(self) -> int:
        """The full plan: everyone, [start, now + horizon). It takes the planning lock a
        page of customers at a time, so changed customers are re-planned in between."""
        return await self._plans.ahead()

    async def plan_changes(self) -> int:
        """Re-plan customers whose facts changed, looking back ``catch_up`` for late events
        (if this daemon plans; else 0: the one that plans has heard of them)."""
        if not await self._sharing.planner():
            return 0
        return await self._plans.changes()

    async def _replan_notified(self) -> None:
        await self.plan_changes()
        self._dispatch.wake()

    # --- timer jobs -----------------------------------------------------------------

    async def _plan_job(self) -> None:
        if await self._sharing.planner():
            await self.plan_changes()
            await self.plan_ahead()
        await self.wake()

    async def _watch_job(self) -> None:
        await self.reload_if_changed()
        await self.plan_changes()  # also where the lead is taken when its holder stopped
        self._sharing.help_soon()  # a full plan shared out, if any (notifications get lost)
        # Also without changes: another process may have made a row ready without noting
        # a change (a script's UPDATE), or the wall clock jumped. One indexed MIN() a tick.
        await self.wake()

    async def _reclaim_job(self) -> None:
        # What our dispatcher is sending has its lease renewed: taken back mid-batch, it
        # would be sent twice. A claim of ours it no longer holds (its outcome lost with
        # a server crash) is not renewed and comes back when its lease ends.
        now, d = self.clock.now(), self.dispatcher
        await self.store.renew_claims(owner=d.owner, keys=set(d.held), now=now, ttl=d.lease)
        taken = await self.store.reclaim(now=now, owners_gone=True, me=d.owner)
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
        fresh = await load_fresh(self.project, self._load)
        if fresh is None:
            return False
        self.project = fresh  # one assignment: a dispatch sees the old or the new, whole
        logs.log.info(
            "reloaded %d rules and the templates; re-planning", len(fresh.rules),
            extra={"tf": {"event": "reload"}},
        )  # fmt: skip
        if await self._sharing.planner():
            await self.plan_ahead()
        await self.wake()
        return True

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
        await self._sharing.stop()
        released = await self.store.reclaim(now=self.clock.now(), owner=self.dispatcher.owner)
        if released:
            logs.log.warning("%d send(s) did not finish in time; they are retried", len(released))
        logs.log.info("stopped")
