"""The Starlette application: routes, and errors mapped to JSON answers."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from touchflow.console.routes import console_routes
from touchflow.errors import StoreError
from touchflow.http import (
    backtest,
    customers,
    diff,
    events,
    forecast,
    ops,
    preview,
    sms_inbound,
    unsubscribe,
    why,
)
from touchflow.http.errors import ApiError, JSONLine, fail
from touchflow.http.openapi import document
from touchflow.http.state import Api, api_of


class _AnyText(Convertor[str]):
    """Any non-empty text, slashes and line breaks included: every customer id and every
    token reaches its handler, which names what is wrong with it (Starlette's ``path``
    stops at a line break)."""

    regex = "[\\s\\S]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("tf_any", _AnyText())


def create_app(api: Api, *, inbound: sms_inbound.Inbound | None = None) -> Starlette:
    """The routes; ``POST /v1/sms/inbound`` only with ``inbound`` (Twilio's inbound_url)."""
    routes = [
        Route("/v1/events", events.post_events, methods=["POST"]),
        Route("/v1/customers/{customer_id:tf_any}/why", why.get_why, methods=["GET"]),
        Route("/v1/customers/{customer_id:tf_any}", customers.put_customer, methods=["PUT"]),
        Route("/v1/customers/{customer_id:tf_any}", customers.delete_customer, methods=["DELETE"]),
        Route("/v1/preview", preview.get_preview, methods=["GET"]),
        Route("/v1/forecast", forecast.get_forecast, methods=["GET"]),
        Route("/v1/diff", diff.get_diff, methods=["GET"]),
        Route("/v1/backtest", backtest.get_backtest, methods=["GET"]),
        Route("/v1/unsubscribe/{token:tf_any}", unsubscribe.show_page, methods=["GET"]),
        Route("/v1/unsubscribe/{token:tf_any}", unsubscribe.unsubscribe, methods=["POST"]),
        *sms_inbound.routes(inbound),
        Route("/healthz", ops.healthz, methods=["GET"]),
        Route("/metrics", ops.metrics, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        *console_routes(),  # the web console (docs/console.md)
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            StoreError: _store_error,
        },
    )
    app.state.api = api
    app.state.sms_inbound = inbound is not None
    return app


async def _openapi(request: Request) -> Response:
    sms = bool(request.app.state.sms_inbound)
    return JSONLine(document(api_of(request).settings, sms_replies=sms))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    """The router's 404 and 405, in the same JSON shape as every other error."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    field = "path" if exc.status_code == 404 else "method"
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return fail(exc.status_code, code, field, message, headers=exc.headers).response()


async def _store_error(request: Request, exc: Exception) -> Response:
    # Nothing was written (every write is one transaction); the client may try again.
    return fail(503, "store_unavailable", None, str(exc), headers={"Retry-After": "5"}).response()
