"""``GET /v1/backtest``: the JSON of `touchflow backtest --format json`, from the daemon's
store and the rules it runs.

``from`` is required; ``to`` defaults to the daemon's clock. The replay runs a page at a
time in a worker thread and in this process only, so the daemon keeps sending meanwhile.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from touchflow.explain.backtest import CATEGORIES, BacktestError, backtest_request, run_backtest
from touchflow.explain.backtest_json import report_json
from touchflow.http.auth import require_token
from touchflow.http.errors import JSONLine, fail
from touchflow.http.query import bad_query, only_known, query_moment
from touchflow.http.state import api_of
from touchflow.plan.moment import BadMoment, Moment, read_moment

_PARAMS = ("from", "to", "now", "rule", "customer", "category", "as_happened")
_FLAGS = {"true": True, "false": False}


async def get_backtest(request: Request) -> Response:
    api = api_of(request)
    require_token(request, api.secrets.token)  # it shows customers and what they were sent
    query = request.query_params
    only_known(query, _PARAMS)
    project, store = api.engine.project, api.engine.store
    tz = project.config.timezone
    now = query_moment(query.get("now"), tz, api.engine.clock.now())
    if "from" not in query:
        raise bad_query("from", "from is required: the period's first day, e.g. 2026-07-01")
    start = _moment("from", query["from"], tz)
    end = None if "to" not in query else _moment("to", query["to"], tz)
    try:
        backtest = backtest_request(
            project, start, end, now, customer=query.get("customer"),
            rule=query.get("rule"), category=query.get("category"),
            as_happened=_flag("as_happened", query.get("as_happened", "false")),
        )  # fmt: skip
        report = await run_backtest(project, store, backtest, now=now.instant, workers=1)
    except BacktestError as exc:
        if exc.field == "customer":
            raise fail(404, "unknown_customer", "customer", str(exc)) from None
        raise bad_query(exc.field, str(exc)) from None
    return JSONLine(report_json(report))


def _flag(name: str, text: str) -> bool:
    if text not in _FLAGS:
        raise bad_query(name, f"{name} must be true or false, not {text!r}")
    return _FLAGS[text]


def _moment(name: str, text: str, tz: str) -> Moment:
    try:
        return read_moment(text, tz)
    except BadMoment as exc:
        raise bad_query(name, str(exc)) from None


def openapi_path() -> dict[str, Any]:
    """The route in /openapi.json (``touchflow.http.openapi`` lists it)."""
    params = [
        {"name": n, "in": "query", "required": n == "from", "schema": s}
        for n, s in (
            ("from", {"type": "string"}),
            ("to", {"type": "string"}),
            ("now", {"type": "string"}),
            ("rule", {"type": "string"}),
            ("customer", {"type": "string"}),
            ("category", {"enum": list(CATEGORIES)}),
            ("as_happened", {"type": "boolean"}),
        )
    ]
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        "get": {
            "summary": "What the rules as they are now would have sent over a past period, "
            "against the outbox: `touchflow backtest --format json` (docs/explain.md).",
            "security": [{"bearer": []}],
            "parameters": params,
            "responses": {
                "200": {
                    "description": "Per rule, per day and per key (docs/explain.md).",
                    "content": {"application/json": {"schema": _schema()}},
                },
                "401": {"description": "No or a wrong bearer token.", "content": error},
                "404": {"description": "No such customer.", "content": error},
                "422": {"description": "A query parameter is wrong.", "content": error},
                "503": {"description": "The store could not be read.", "content": error},
            },
        }
    }


def _schema() -> dict[str, Any]:
    keys = ["now", "period", "filters", "customers", "would_send", "sent", "same", "rules",
            "days", "differences"]  # fmt: skip
    array = {"type": "array", "items": {"type": "object"}}
    return {
        "type": "object",
        "required": keys,
        "properties": {
            "now": {"type": "string"},
            "period": {"type": "object", "required": ["from", "to", "timezone"]},
            "filters": {"type": "object"},
            "customers": {"type": "integer"},
            "would_send": {"type": "integer"},
            "sent": {"type": "integer"},
            "same": {"type": "boolean"},
            "rules": array,
            "days": array,
            "differences": array,
        },
    }
