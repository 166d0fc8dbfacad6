"""The console's routes, for ``touchflow.http.app`` to serve next to the JSON API."""

from __future__ import annotations

from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from touchflow.console import calendar_pages, customer, health, login, message, outbox, rules
from touchflow.console.kept import Kept
from touchflow.console.render import redirect, stylesheet
from touchflow.console.session import Sessions
from touchflow.console.visit import Visit, guarded

POST = ["POST"]
READ_ONLY = "read-only: run the daemon to retry"


def console_routes(*, read_only: bool = False) -> list[Route]:
    """Every ``/console/…`` route, sharing one set of sessions, the calendar's kept
    counts and the outbox's counts by state (made here, per app); ``read_only``:
    `touchflow console`'s, where nothing is retried."""
    sessions = Sessions()
    kept = Kept()
    counts = outbox.StateCounts()
    retry = _read_only if read_only else partial(outbox.retry, counts)

    async def check_login(request: Request) -> Response:
        return await login.check_login(sessions, request)

    return [
        Route("/console", _home, methods=["GET"]),
        Route("/console/login", login.login_form, methods=["GET"]),
        Route("/console/login", check_login, methods=["POST"]),
        Route("/console/logout", guarded(sessions, login.logout, changes=True), methods=["POST"]),
        Route("/console/console.css", stylesheet, methods=["GET"]),
        Route(
            "/console/",
            guarded(sessions, partial(calendar_pages.calendar_page, kept)),
            methods=["GET"],
        ),
        Route(
            "/console/day/{day}",
            guarded(sessions, partial(calendar_pages.day_page, kept)),
            methods=["GET"],
        ),
        Route(
            "/console/outbox",
            guarded(sessions, partial(outbox.outbox_page, counts)),
            methods=["GET"],
        ),
        Route("/console/outbox/retry", guarded(sessions, retry, changes=True), methods=POST),
        Route("/console/customers", guarded(sessions, customer.search), methods=["GET"]),
        Route("/console/customers/{customer_id:path}", guarded(sessions, customer.customer_page)),
        Route("/console/message", guarded(sessions, message.message_page), methods=["GET"]),
        Route("/console/message/html", guarded(sessions, message.message_html), methods=["GET"]),
        Route("/console/rules", guarded(sessions, rules.rules_page), methods=["GET"]),
        Route("/console/health", guarded(sessions, health.health_page), methods=["GET"]),
        Route("/console/{rest:path}", guarded(sessions, _not_found), methods=["GET"]),
    ]


async def _home(request: Request) -> Response:
    return redirect("/console/")


async def _not_found(visit: Visit) -> Response:
    """Any other console address: a page (with the console's headers), not the API's JSON."""
    message = f"There is no console page at {visit.request.url.path}."
    return visit.show("problem.html", 404, title="Not found", message=message)


async def _read_only(visit: Visit) -> Response:
    """A retry sent to `touchflow console`: refused, nothing changes."""
    message = f"{READ_ONLY}: this console (`touchflow console`) changes nothing."
    return visit.show("problem.html", 403, title="Read-only", message=message)
