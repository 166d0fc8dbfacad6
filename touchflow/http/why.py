"""``GET /v1/customers/{id}/why``: the JSON of `touchflow why --format json`, from the live store.

Same story, same shape (docs/explain.md); the periods are around the daemon's "now",
or ``?now=`` read as `--now` is. Planning runs in a worker thread, so the daemon keeps
sending meanwhile.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from touchflow.http.auth import require_token
from touchflow.http.errors import JSONLine, fail
from touchflow.http.query import bad_query, only_known, query_moment
from touchflow.http.state import api_of
from touchflow.plan.moment import BadMoment
from touchflow.plan.trace_json import story_json
from touchflow.plan.trace_store import (
    DEFAULT_DAYS,
    DEFAULT_PAST,
    MAX_DAYS,
    WhyError,
    customer_story,
    why_request,
)

_PARAMS = ("rule", "category", "days", "past", "now")


async def get_why(request: Request) -> Response:
    api = api_of(request)
    require_token(request, api.secrets.token)  # it shows names, addresses and messages
    query = request.query_params
    only_known(query, _PARAMS)
    days = _number(query, "days", DEFAULT_DAYS, 1)
    past = _number(query, "past", DEFAULT_PAST, 0)
    project, store = api.engine.project, api.engine.store
    moment = query_moment(query.get("now"), project.config.timezone, api.engine.clock.now())
    customer = request.path_params["customer_id"]
    try:
        why = why_request(
            project, customer, moment, days=days, past=past, rule=query.get("rule"),
            category=query.get("category"),
        )  # fmt: skip
        story = await customer_story(project, store, why)
    except WhyError as exc:
        if exc.field == "customer":
            raise fail(404, "unknown_customer", "customer_id", str(exc)) from None
        raise bad_query(exc.field, str(exc)) from None
    except BadMoment as exc:
        raise bad_query("days", str(exc)) from None
    return JSONLine(story_json(story))


def _number(query: Any, name: str, default: int, least: int) -> int:
    text = query.get(name, str(default))
    if not (text.isascii() and text.isdigit() and len(text) <= 4) or not (
        least <= int(text) <= MAX_DAYS
    ):
        raise bad_query(
            name, f"{name} must be a whole number from {least} to {MAX_DAYS}, not {text!r}"
        )
    return int(text)


def openapi_path() -> dict[str, Any]:
    """The route in /openapi.json (``touchflow.http.openapi`` lists it)."""
    params = [
        {"name": "customer_id", "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 1}},
        *({"name": n, "in": "query", "required": False, "schema": s} for n, s in (
            ("rule", {"type": "string"}),
            ("category", {"enum": ["marketing", "transactional"]}),
            ("days", {"type": "integer", "minimum": 1, "maximum": MAX_DAYS}),
            ("past", {"type": "integer", "minimum": 0, "maximum": MAX_DAYS}),
            ("now", {"type": "string"}),
        )),
    ]  # fmt: skip
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        "get": {
            "summary": "Why a customer did or did not get a message: `touchflow why --format "
            "json` (docs/explain.md).",
            "security": [{"bearer": []}],
            "parameters": params,
            "responses": {
                "200": {
                    "description": "The story of the customer (docs/explain.md).",
                    "content": {"application/json": {"schema": _story_schema()}},
                },
                "401": {"description": "No or a wrong bearer token.", "content": error},
                "404": {"description": "No such customer.", "content": error},
                "422": {"description": "A query parameter is wrong.", "content": error},
                "503": {"description": "The store could not be read.", "content": error},
            },
        }
    }


def _story_schema() -> dict[str, Any]:
    span = {"type": "object", "required": ["from", "to"]}
    return {
        "type": "object",
        "required": ["customer", "now", "past", "future", "rules"],
        "properties": {
            "customer": {"type": "object", "required": ["id"]},
            "now": {"type": "string"},
            "past": span,
            "future": span,
            "rules": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["rule", "where", "found", "none", "touchpoints"],
                },
            },
        },
    }
