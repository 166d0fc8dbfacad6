"""``GET /v1/preview``: the JSON of `touchflow preview --format json`, from the live store.

Same planner, same renderer, same shape (docs/preview-json.md); the window
starts at the daemon's "now", or at ``?now=`` read as `--now` is (a date: whole
local days in the project's zone). Planning and rendering run in a worker thread so
the daemon keeps sending meanwhile.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from touchflow.http.auth import require_token
from touchflow.http.errors import JSONLine
from touchflow.http.query import bad_query, only_known, query_window
from touchflow.http.state import api_of
from touchflow.plan import preview
from touchflow.plan.from_store import PlanRequest, plan_from_store

_PARAMS = ("days", "now", "customer", "rule", "all")
_MAX_DAYS = 3660  # as `touchflow preview --days`
_FLAGS = {"true": True, "1": True, "false": False, "0": False}


async def get_preview(request: Request) -> Response:
    api = api_of(request)
    require_token(request, api.secrets.token)  # it shows names, addresses and messages
    query = request.query_params
    only_known(query, _PARAMS)
    days = _days(query.get("days", "7"))
    show_all = _FLAGS.get(query.get("all", "false").lower())
    if show_all is None:
        raise bad_query("all", "all must be true or false")
    project, store = api.engine.project, api.engine.store
    customer, rule = query.get("customer"), query.get("rule")
    if rule is not None and rule not in {r.id for r in project.rules}:
        raise bad_query(
            "rule", f"no rule {rule!r}; rules: {', '.join(r.id for r in project.rules)}"
        )
    if customer is not None and await store.get_customer(customer) is None:
        raise bad_query("customer", f"no customer {customer!r} in the store")
    window = query_window(query.get("now"), days, project.config.timezone, api.engine.clock.now())
    planned = await plan_from_store(
        project, store, PlanRequest(window=window, customer=customer, rule=rule)
    )
    items = await asyncio.to_thread(preview.render_all, project, planned)
    shown = items if show_all else [i for i in items if i.touchpoint.reason is None]
    return JSONLine([preview.as_json(item) for item in shown])


def _days(text: str) -> int:
    if (
        not (text.isascii() and text.isdigit() and len(text) <= 4)
        or not 1 <= int(text) <= _MAX_DAYS
    ):
        raise bad_query("days", f"days must be a whole number from 1 to {_MAX_DAYS}, not {text!r}")
    return int(text)
