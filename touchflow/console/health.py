"""``/console/health``: what ``/healthz`` says, for people, with the outbox's backlog.

The daemon's state (its scheduler's timers and when each runs next), this instance and
its role among the daemons of the store, whether the store answers (its location
without a password), the problems
``touchflow.send.trouble`` finds (as ``/healthz`` lists them), the rows ready to send
now (the dispatcher's backlog), the next one due, and the last send.
"""

from __future__ import annotations

from starlette.responses import Response

from touchflow.config.store import shown_location
from touchflow.console.visit import Visit
from touchflow.errors import StoreError
from touchflow.send import trouble

TIMERS = ("plan", "watch", "reclaim")  # as /healthz: each runs while the daemon is up


async def health_page(visit: Visit) -> Response:
    engine = visit.backing.engine
    now = engine.clock.now()
    timers = engine.timers()
    standing = engine.standing
    running = timers is not None and all(name in timers for name in TIMERS)
    store = engine.store
    try:
        problems = await trouble.find(store, now)
        backlog = await store.outbox_ready_count(now)
        next_ready, last_sent = await store.next_ready_at(), await store.last_sent_at()
        store_error = None if standing.store_ok else standing.error
    except StoreError as exc:
        problems, backlog, next_ready, last_sent, store_error = [], None, None, None, str(exc)
    state = "unavailable" if not running or store_error else "degraded" if problems else "ok"
    return visit.show(
        "health.html", title="Health", state=state, timers=sorted((timers or {}).items()),
        standing=standing, store_error=store_error, problems=problems, backlog=backlog,
        next_ready=next_ready, last_sent=last_sent,
        store_location=shown_location(engine.project.config.store_location()),
    )  # fmt: skip
