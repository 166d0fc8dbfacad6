"""``GET /v1/diff``: the JSON of `touchflow diff --format json`, from the daemon's store.

The new version is the project the daemon runs (its files as loaded); the base is a git
revision of its directory (``?base=``, default HEAD). ``--base-dir`` is not offered over
HTTP: a client should not name directories on the server. Planning runs a page at a time
in a worker thread and in this process only, so the daemon keeps sending meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from touchflow.explain.diff import (
    CATEGORIES,
    DEFAULT_DAYS,
    MAX_DAYS,
    DiffError,
    diff_request,
    run_diff,
)
from touchflow.explain.diff_base import BaseError, BaseProblems, base_files, load_base
from touchflow.explain.diff_json import report_json
from touchflow.explain.diff_run import Versions
from touchflow.http.auth import require_token
from touchflow.http.errors import JSONLine, fail
from touchflow.http.query import bad_query, only_known, query_moment
from touchflow.http.state import api_of
from touchflow.plan.moment import BadMoment

_PARAMS = ("base", "days", "now", "rule", "customer", "category")


async def get_diff(request: Request) -> Response:
    api = api_of(request)
    require_token(request, api.secrets.token)  # it shows customers, addresses and messages
    query = request.query_params
    only_known(query, _PARAMS)
    days = _days(query.get("days", str(DEFAULT_DAYS)))
    project, store = api.engine.project, api.engine.store
    moment = query_moment(query.get("now"), project.config.timezone, api.engine.clock.now())
    try:
        with base_files(project.config.root, rev=query.get("base"), base_dir=None) as base:
            base_project = await asyncio.to_thread(load_base, base)
            diff = diff_request(
                base_project, project, moment, days=days, customer=query.get("customer"),
                rule=query.get("rule"), category=query.get("category"),
            )  # fmt: skip
            versions = Versions.of(base_project, project, diff.window)
            report = await run_diff(base, versions, store, diff, workers=1)
    except BaseProblems as exc:
        raise fail(422, "invalid_base", "base", str(exc)) from None
    except BaseError as exc:
        raise bad_query("base", str(exc)) from None
    except DiffError as exc:
        if exc.field == "customer":
            raise fail(404, "unknown_customer", "customer", str(exc)) from None
        raise bad_query(exc.field, str(exc)) from None
    except BadMoment as exc:
        raise bad_query("days", str(exc)) from None
    return JSONLine(report_json(report))


def _days(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 4) or not (
        1 <= int(text) <= MAX_DAYS
    ):
        raise bad_query("days", f"days must be a whole number from 1 to {MAX_DAYS}, not {text!r}")
    return int(text)


def openapi_path() -> dict[str, Any]:
    """The route in /openapi.json (``touchflow.http.openapi`` lists it)."""
    params = [
        {"name": n, "in": "query", "required": False, "schema": s}
        for n, s in (
            ("base", {"type": "string"}),
            ("days", {"type": "integer", "minimum": 1, "maximum": MAX_DAYS}),
            ("now", {"type": "string"}),
            ("rule", {"type": "string"}),
            ("customer", {"type": "string"}),
            ("category", {"enum": list(CATEGORIES)}),
        )
    ]
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        "get": {
            "summary": "What the project's change since a git revision sends differently: "
            "`touchflow diff --format json` (docs/explain.md).",
            "security": [{"bearer": []}],
            "parameters": params,
            "responses": {
                "200": {
                    "description": "The differences, per rule and per key (docs/explain.md).",
                    "content": {"application/json": {"schema": _schema()}},
                },
                "401": {"description": "No or a wrong bearer token.", "content": error},
                "404": {"description": "No such customer.", "content": error},
                "422": {
                    "description": "A query parameter is wrong, the revision is unknown, or "
                    "the base does not validate.",
                    "content": error,
                },
                "503": {"description": "The store could not be read.", "content": error},
            },
        }
    }


def _schema() -> dict[str, Any]:
    keys = ["base", "now", "window", "filters", "customers", "touchpoints", "changed",
            "rules", "changes", "outbox"]  # fmt: skip
    array = {"type": "array", "items": {"type": "object"}}
    return {
        "type": "object",
        "required": keys,
        "properties": {
            "base": {"type": "object", "required": ["label", "rev", "commit", "dir"]},
            "now": {"type": "string"},
            "window": {"type": "object", "required": ["from", "to"]},
            "filters": {"type": "object"},
            "customers": {"type": "integer"},
            "touchpoints": {"type": "object", "required": ["base", "new"]},
            "changed": {"type": "boolean"},
            "rules": array,
            "changes": array,
            "outbox": array,
        },
    }
