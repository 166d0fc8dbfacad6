"""``GET /openapi.json``: the interface as OpenAPI 3.1, written out rather than generated.

The schemas say what the handlers accept and answer; the fuzz test
(tests/integration/test_http_fuzz.py) sends what schemathesis makes of them
and checks every answer against them.
"""

from __future__ import annotations

from typing import Any

from touchflow.config.http import HttpSettings
from touchflow.http import backtest, diff, why
from touchflow.http.forecast import openapi_operation as forecast_operation
from touchflow.http.sms_inbound import openapi_path as sms_inbound_path
from touchflow.models import CUSTOMER_CORE_FIELDS

_NULLABLE_TEXT = {"type": ["string", "null"]}
_NULLABLE_TIME = {"type": ["string", "null"]}
_TEXT = {"type": "string"}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_ERRORS = {
    "400": "The body is not JSON (or the token is not valid).",
    "401": "No or a wrong `Authorization: Bearer` token.",
    "404": "No such customer.",
    "409": "An event id already names a different event.",
    "413": "The body is over `http.max_body_bytes`, or a batch over `http.max_batch`.",
    "422": "A field is wrong; `problems` names each (with the batch index).",
    "503": "The store could not be written (nothing was); try again.",
}


def document(settings: HttpSettings, *, sms_replies: bool = False) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "touchflow",
            "version": "1",
            "description": "Events in, customers, preview, one-click unsubscribe, health and "
            "metrics of a running `touchflow run`. See docs/api.md.",
        },
        "paths": _paths() | (sms_inbound_path() if sms_replies else {}),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(settings),
        },
    }


def _paths() -> dict[str, Any]:
    return {
        "/v1/events": {"post": _post_events()},
        "/v1/customers/{customer_id}": _customer(),
        "/v1/preview": {"get": _get_preview()},
        "/v1/customers/{customer_id}/why": why.openapi_path(),
        "/v1/forecast": {"get": forecast_operation()},
        "/v1/diff": diff.openapi_path(),
        "/v1/backtest": backtest.openapi_path(),
        "/v1/unsubscribe/{token}": _unsubscribe(),
        **_operations(),
    }


def _post_events() -> dict[str, Any]:
    return {
        "summary": "Record one event, or a batch (all or none); idempotent by event id.",
        "security": _BEARER,
        "requestBody": _json_body({"oneOf": [_ref("Event"), _ref("EventBatch")]}),
        "responses": {
            "200": _json(
                "A batch was recorded, or a single event was known.",
                {"oneOf": [_ref("EventResult"), _ref("BatchResult")]},
            ),
            "201": _json("The event was recorded.", _ref("EventResult")),
            **_errors("400", "401", "409", "413", "422", "503"),
        },
    }


def _customer() -> dict[str, Any]:
    customer_id = _path_param(
        "customer_id",
        "The customer id (PUT: no control characters or line breaks, at most 255 characters).",
    )
    return {
        "parameters": [customer_id],
        "put": {
            "summary": "Create or replace a customer (the fields of a customers .jsonl line).",
            "security": _BEARER,
            "requestBody": _json_body(_ref("Customer")),
            "responses": {
                "200": _json("Replaced.", _ref("CustomerResult")),
                "201": _json("Created.", _ref("CustomerResult")),
                **_errors("400", "401", "413", "422", "503"),
            },
        },
        "delete": {
            "summary": "Erase a customer; suppressions of the address are kept, hashed.",
            "security": _BEARER,
            "responses": {
                "200": _json("Erased.", _ref("Erasure")),
                **_errors("401", "404", "422", "503"),
            },
        },
    }


def _get_preview() -> dict[str, Any]:
    return {
        "summary": "What `touchflow preview --format json` shows, from the live store.",
        "security": _BEARER,
        "parameters": [
            _query("days", {"type": "integer", "minimum": 1, "maximum": 3660}),
            _query("now", _TEXT),
            _query("customer", _TEXT),
            _query("rule", _TEXT),
            _query("all", {"type": "boolean"}),
        ],
        "responses": {
            "200": _json(
                "Touchpoints (docs/preview-json.md).",
                {"type": "array", "items": _ref("PreviewItem")},
            ),
            **_errors("401", "422", "503"),
        },
    }


def _unsubscribe() -> dict[str, Any]:
    token = _path_param("token", "The token of a List-Unsubscribe link.")
    return {
        "parameters": [token],
        "get": {
            "summary": "A page with an Unsubscribe button; changes nothing.",
            "responses": {"200": _html("The page."), "400": _html("The link is not valid.")},
        },
        "post": {
            "summary": "RFC 8058 one-click unsubscribe from marketing, effective at once.",
            "responses": {
                "200": _json_or_html("Unsubscribed.", _ref("Unsubscribed")),
                "400": _json_or_html("The link is not valid.", _ref("Error")),
                **_errors("503"),
            },
        },
    }


def _operations() -> dict[str, Any]:
    """The paths for whoever runs the daemon: health, metrics and this document."""
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness and the scheduler's timers.",
                "responses": {
                    "200": _json(
                        "Running (degraded: some customers' messages need a look).", _ref("Health")
                    ),
                    "503": _json(
                        "Starting or stopping, or the store out of reach.", _ref("Health")
                    ),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus text format.",
                "responses": {"200": {"description": "Metrics.", "content": {"text/plain": {}}}},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document.",
                "responses": {"200": _json("OpenAPI 3.1.", {"type": "object"})},
            }
        },
    }


def _schemas(settings: HttpSettings) -> dict[str, Any]:
    return {
        **_event_schemas(settings),
        **_customer_schemas(),
        "PreviewItem": _preview_item(),
        "Unsubscribed": _object(
            {"unsubscribed": _TEXT, "category": _TEXT}, required=["unsubscribed", "category"]
        ),
        "Health": _health(),
        "Error": _error(),
    }


def _event_schemas(settings: HttpSettings) -> dict[str, Any]:
    return {
        "Event": _object(
            {
                "id": {"type": ["string", "integer"], "minLength": 1},
                "type": {"type": "string", "minLength": 1},
                "customer": {"type": ["string", "integer"], "minLength": 1},
                "at": {"type": "string", "format": "date-time"},
                "data": {"type": "object"},
            },
            required=["id", "type", "customer", "at"],
        ),
        "EventBatch": _object(
            {
                "events": {
                    "type": "array",
                    "items": _ref("Event"),
                    "minItems": 1,
                    "maxItems": settings.max_batch,
                }
            },
            required=["events"],
        ),
        "EventResult": _object(
            {"id": _TEXT, "duplicate": {"type": "boolean"}, "unused": {"type": "boolean"}},
            required=["id", "duplicate", "unused"],
        ),
        "BatchResult": _object(
            {
                "events": {"type": "array", "items": _ref("EventResult")},
                "inserted": {"type": "integer"},
                "duplicates": {"type": "integer"},
            },
            required=["events", "inserted", "duplicates"],
        ),
    }


def _customer_schemas() -> dict[str, Any]:
    return {
        "Customer": {
            "type": "object",
            "description": "Core fields below; any other key is an attribute.",
            "properties": {
                # The core fields but the id (it is in the path): text unless typed here.
                **{name: _NULLABLE_TEXT for name in CUSTOMER_CORE_FIELDS if name != "id"},
                "birthday": {"type": ["string", "null"], "format": "date"},
                "customer_since": {"type": ["string", "null"], "format": "date"},
                "consent_marketing": {"type": ["boolean", "null"]},
                "consent_sms": {"type": ["boolean", "null"]},
                "phone": {
                    "type": ["string", "null"],
                    "description": "E.164 (+4915112345678), or national in the customer's "
                    "country (else the project's); stored as E.164",
                },
            },
            "additionalProperties": True,
        },
        "CustomerResult": _object(
            {"id": _TEXT, "created": {"type": "boolean"}}, required=["id", "created"]
        ),
        "Erasure": _object(
            {
                "id": _TEXT,
                "erased": {"type": "boolean"},
                **{
                    n: {"type": "integer"}
                    for n in (
                        "events",
                        "touchpoints_deleted",
                        "touchpoints_kept",
                        "suppressions_hashed",
                    )
                },
            },
            required=["id", "erased", "events", "touchpoints_deleted"],
        ),
    }


def _preview_item() -> dict[str, Any]:
    texts = (
        "key", "rule", "customer", "channel", "category", "template", "status", "send_at",
        "local_send_at", "timezone", "occurrence",
    )  # fmt: skip
    return {
        "type": "object",
        "required": ["key", "rule", "customer", "status", "send_at"],
        "properties": {
            **{name: _TEXT for name in texts},
            **{
                name: _NULLABLE_TEXT
                for name in ("reason", "detail", "to", "locale", "subject", "text", "html", "sms")
            },
            "expires_at": _NULLABLE_TIME,
            "adjustments": {"type": "array", "items": _TEXT},
        },
    }


def _health() -> dict[str, Any]:
    return _object(
        {
            "status": {"enum": ["ok", "degraded", "unavailable"]},
            "scheduler": _TEXT,
            "timers": {"type": "object", "additionalProperties": _NULLABLE_TIME},
            "problems": {
                "type": "array",
                "items": _object(
                    {
                        "reason": _TEXT,
                        "rows": {"type": "integer"},
                        "customers": {"type": "integer"},
                        "message": _TEXT,
                    },
                    required=["reason", "rows", "customers", "message"],
                ),
            },
            "instance": _TEXT,
            "role": {"enum": ["planner", "sender"]},
            "store": _object(
                {"reachable": {"type": "boolean"}, "since": _NULLABLE_TIME, "error": _TEXT},
                required=["reachable"],
            ),
        },
        required=["status", "scheduler", "timers", "instance", "role", "store"],
    )


def _error() -> dict[str, Any]:
    return _object(
        {
            "error": _TEXT,
            "message": _TEXT,
            "problems": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    {
                        "field": _NULLABLE_TEXT,
                        "index": {"type": ["integer", "null"]},
                        "message": _TEXT,
                    },
                    required=["field", "index", "message"],
                ),
            },
        },
        required=["error", "message", "problems"],
    )


def _object(properties: dict[str, Any], *, required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
    }


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _json_or_html(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """JSON, or a page when the request accepts text/html (a browser)."""
    answer = _json(description, schema)
    answer["content"]["text/html"] = {"schema": {"type": "string"}}
    return answer


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _json(_ERRORS[code], _ref("Error")) for code in codes}
