"""``GET /healthz`` and ``GET /metrics``: for load balancers, systemd checks and Prometheus.

Neither needs a token and neither shows customer data; bind to 127.0.0.1 (the
default) or let a reverse proxy decide who may read them.
"""

from __future__ import annotations

import asyncio
import dataclasses

from starlette.requests import Request
from starlette.responses import Response

from touchflow.errors import StoreError
from touchflow.http.errors import JSONLine
from touchflow.http.metrics import CONTENT_TYPE
from touchflow.http.state import api_of
from touchflow.send import trouble
from touchflow.send.instance import Standing

TIMERS = ("plan", "watch", "reclaim")  # always there while running; "dispatch" only when due
STORE_SECONDS = 2.0  # /healthz waits this long for the store, then says it is out of reach
_NO_CACHE = {"Cache-Control": "no-store"}


async def healthz(request: Request) -> Response:
    """200 while the scheduler runs its timers (``degraded`` with the problems when some
    customers' messages are in trouble: touchflow.send.trouble); 503 while starting or
    stopping, or while the store is out of reach. Which instance answers, and its role."""
    engine = api_of(request).engine
    timers = engine.timers()
    standing = engine.standing
    ok = timers is not None and all(name in timers for name in TIMERS) and standing.store_ok
    shown = {
        name: when.isoformat() if when is not None else None
        for name, when in sorted((timers or {}).items())
    }
    # Still 200 when degraded: everyone else is served, so a load balancer must keep it.
    problems: list[trouble.Trouble] = []
    if ok:
        try:  # a store gone since the daemon last looked: say so now, not in 30 s
            problems = await asyncio.wait_for(
                trouble.find(engine.store, engine.clock.now()), STORE_SECONDS
            )
        except (StoreError, TimeoutError) as exc:
            ok = False
            standing = dataclasses.replace(
                standing, store_ok=False, since=engine.clock.now(),
                error=str(exc) or f"no answer within {STORE_SECONDS:g} s",
            )  # fmt: skip
    body: dict[str, object] = {
        "status": ("degraded" if problems else "ok") if ok else "unavailable",
        "scheduler": "running" if timers is not None else "not running",
        "timers": shown,
        "instance": standing.instance,
        "role": standing.role,
        "store": _store(standing),
    }
    if problems:
        body["problems"] = [
            {"reason": p.reason, "rows": p.rows, "customers": p.customers, "message": p.words}
            for p in problems
        ]
    return JSONLine(body, status_code=200 if ok else 503, headers=_NO_CACHE)


def _store(standing: Standing) -> dict[str, object]:
    """Whether the daemon reaches its store; since when not, and what the driver said."""
    if standing.store_ok:
        return {"reachable": True}
    since = standing.since.isoformat() if standing.since is not None else None
    return {"reachable": False, "since": since, "error": standing.error}


async def metrics(request: Request) -> Response:
    text = await api_of(request).metrics.render()
    return Response(text, media_type=CONTENT_TYPE, headers=_NO_CACHE)
