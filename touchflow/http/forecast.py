"""``GET /v1/forecast``: the JSON of `touchflow forecast --format json`, from the live store.

Same planner, same counts, same shape (docs/explain.md). The window starts at the
daemon's "now", or at ``?now=`` read as `--now` is (a date: whole local days in the
project's zone). Everyone (or each ``?customer=``, read by id) is planned a page at a
time in a worker thread, in this process (a daemon does not start processes for a
query), so the daemon keeps sending.
"""

from __future__ import annotations

from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from touchflow.data.fields import FieldProblem
from touchflow.http.auth import require_token
from touchflow.http.errors import ApiError, JSONLine
from touchflow.http.query import bad_query, only_known, query_window
from touchflow.http.state import api_of
from touchflow.models import Category
from touchflow.plan.forecast import (
    ForecastRequest,
    GroupBy,
    UnknownCustomers,
    frequency_for,
    no_customer,
)
from touchflow.plan.forecast_store import forecast
from touchflow.plan.forecast_views import as_json

E = TypeVar("E", GroupBy, Category)
_PARAMS = ("days", "by", "now", "customer", "rule", "category", "over")
_MAX_DAYS = 3660  # as `touchflow forecast --days`


async def get_forecast(request: Request) -> Response:
    api = api_of(request)
    require_token(request, api.secrets.token)  # counts of the audience: not for anyone
    query = request.query_params
    only_known(query, _PARAMS)
    project, store = api.engine.project, api.engine.store
    rule = query.get("rule")
    if rule is not None and rule not in {r.id for r in project.rules}:
        raise bad_query(
            "rule", f"no rule {rule!r}; rules: {', '.join(r.id for r in project.rules)}"
        )
    days = _whole("days", query.get("days", "90"), least=1, most=_MAX_DAYS)
    over = query.get("over")
    wanted = ForecastRequest(
        window=query_window(
            query.get("now"), days, project.config.timezone, api.engine.clock.now()
        ),
        timezone=project.config.timezone,
        by=_choice("by", query.get("by", "day"), GroupBy),
        customers=tuple(dict.fromkeys(query.getlist("customer"))),
        rule=rule,
        category=_choice("category", query["category"], Category) if "category" in query else None,
        frequency=frequency_for(
            project.config.caps, None if over is None else _whole("over", over, least=0)
        ),
    )
    try:
        return JSONLine(as_json(await forecast(project, store, wanted, workers=1)))
    except UnknownCustomers as exc:
        unknown = [FieldProblem(field="customer", message=no_customer(c)) for c in exc.ids]
        raise ApiError(404, "unknown_customer", unknown) from None


def _whole(name: str, text: str, *, least: int, most: int | None = None) -> int:
    ok = text.isascii() and text.isdigit() and len(text) <= 9
    if not ok or int(text) < least or (most is not None and int(text) > most):
        bounds = f"from {least} to {most}" if most is not None else f"of at least {least}"
        raise bad_query(name, f"{name} must be a whole number {bounds}, not {text!r}")
    return int(text)


def _choice(name: str, text: str, kind: type[E]) -> E:
    names = [k.value for k in kind]
    if text not in names:
        raise bad_query(name, f"{name} must be one of {', '.join(names)}, not {text!r}")
    return kind(text)


_FORECAST = {
    "type": "object",
    "required": [
        "window", "by", "filters", "customers", "reached", "planned", "held",
        "held_by_reason", "groups", "rules", "peak_days", "peak_hours", "rate_limit",
        "frequency",
    ],
    "properties": {
        "groups": {"type": "array", "items": {"type": "object"}},
        "rules": {"type": "array", "items": {"type": "object"}},
        "planned": {"type": "integer"},
        "held": {"type": "integer"},
        "frequency": {"type": ["object", "null"]},
    },
}  # fmt: skip


def openapi_operation() -> dict[str, Any]:
    """The route in /openapi.json (touchflow.http.openapi adds it to the paths)."""

    def query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema}

    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {
        "summary": "What `touchflow forecast --format json` shows, from the live store.",
        "security": [{"bearer": []}],
        "parameters": [
            query("days", {"type": "integer", "minimum": 1, "maximum": _MAX_DAYS}),
            query("by", {"enum": [g.value for g in GroupBy]}),
            query("now", {"type": "string"}),
            {
                **query("customer", {"type": "array", "items": {"type": "string"}}),
                "style": "form",
                "explode": True,
                "description": "Only this customer id (repeat it for several); default: everyone.",
            },
            query("rule", {"type": "string"}),
            query("category", {"enum": [c.value for c in Category]}),
            query("over", {"type": "integer", "minimum": 0, "maximum": 999_999_999}),
        ],
        "responses": {
            "200": {
                "description": "The forecast (docs/explain.md).",
                "content": {"application/json": {"schema": _FORECAST}},
            },
            "401": {"description": "No or a wrong `Authorization: Bearer` token.", **error},
            "404": {"description": "A `customer` the store does not hold.", **error},
            "422": {"description": "A query parameter is wrong; `problems` names it.", **error},
            "503": {"description": "The store could not be read; try again.", **error},
        },
    }
