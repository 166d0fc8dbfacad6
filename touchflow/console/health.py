"""``/console/health``: what ``/healthz`` says, for people, with the outbox's backlog.

The daemon's state (its scheduler's timers and when each runs next), this instance and
its role among the daemons of the store (on a shared PostgreSQL store, every daemon
the server sees holding the store's lock, and which one plans), whether the store
answers (its location without a password), this daemon's last full plan (when, how
long, how many: kept in its memory since it started), the problems
``touchflow.send.trouble`` finds (as ``/healthz`` lists them), the rows ready to send
now (the dispatcher's backlog) and how late the oldest of them is (the lag), the
failed sends due in the last 24 hours, the next one due, and the last send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.responses import Response

from touchflow.config.store import shown_location
from touchflow.console.visit import Visit
from touchflow.errors import StoreError
from touchflow.send import trouble
from touchflow.send.trouble import Trouble
from touchflow.store import DaemonSession, Store

TIMERS = ("plan", "watch", "reclaim")  # as /healthz: each runs while the daemon is up


@dataclass(frozen=True, slots=True, kw_only=True)
class Outbox:
    """What the store says of the sending, read when the page is asked for."""

    problems: list[Trouble]
    backlog: int
    lag: timedelta  # now less the oldest ready row's time; 0 when none is ready
    failed: int  # failed, due in the last 24 hours
    next_ready: datetime | None
    last_sent: datetime | None
    daemons: list[DaemonSession]


async def health_page(visit: Visit) -> Response:
    engine = visit.backing.engine
    now = engine.clock.now()
    timers = engine.timers()
    standing = engine.standing
    running = timers is not None and all(name in timers for name in TIMERS)
    try:
        outbox = await read_outbox(engine.store, now)
        store_error = None if standing.store_ok else standing.error
    except StoreError as exc:
        outbox, store_error = None, str(exc)
    problems = outbox is not None and bool(outbox.problems)
    state = "unavailable" if not running or store_error else "degraded" if problems else "ok"
    return visit.show(
        "health.html", title="Health", state=state, timers=sorted((timers or {}).items()),
        standing=standing, store_error=store_error, outbox=outbox, last_plan=engine.last_plan,
        store_location=shown_location(engine.project.config.store_location()),
    )  # fmt: skip


async def read_outbox(store: Store, now: datetime) -> Outbox:
    next_ready = await store.next_ready_at()
    return Outbox(
        problems=await trouble.find(store, now), backlog=await store.outbox_ready_count(now),
        lag=timedelta(seconds=int(max(0.0, (now - next_ready).total_seconds())))
        if next_ready else timedelta(0),
        failed=await store.failed_count(since=now - trouble.RECENT), next_ready=next_ready,
        last_sent=await store.last_sent_at(), daemons=await store.daemon_sessions(),
    )  # fmt: skip
