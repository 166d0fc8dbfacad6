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
from touchflow.console.throttle import Throttle
from touchflow.console.visit import Handler, Visit, guarded

POST = ["POST"]
READ_ONLY = "read-only: run the daemon to retry"
READ_ONLY_CANCEL = "read-only: run the daemon to cancel"


def console_routes(*, read_only: bool = False) -> list[Route]:
    """Every ``/console/…`` route, sharing one set of sessions, the calendar's kept
    counts and the outbox's counts by state (made here, per app); ``read_only``:
    `touchflow console`'s, where nothing is retried or cancelled."""
    sessions = Sessions()
    kept = Kept(read_only=read_only)
    throttle = Throttle()
    counts = outbox.StateCounts()
    retry = partial(_read_only, READ_ONLY) if read_only else partial(outbox.retry, counts)
    cancel = partial(_read_only, READ_ONLY_CANCEL) if read_only else partial(outbox.cancel, counts)

    async def check_login(request: Request) -> Response:
        return await login.check_login(sessions, throttle, request)

    pages: dict[str, Handler] = {  # GET, behind the login; the last one catches the rest
        "/console/": partial(calendar_pages.calendar_page, kept),
        "/console/day/{day}": partial(calendar_pages.day_page, kept),
        "/console/outbox": partial(outbox.outbox_page, counts),
        "/console/customers": customer.search,
        "/console/customers/{customer_id:path}": customer.customer_page,
        "/console/message": message.message_page,
        "/console/message/html": message.message_html,
        "/console/rules": partial(rules.rules_page, kept),
        "/console/health": health.health_page,
        "/console/{rest:path}": _not_found,
    }
    forms: dict[str, Handler] = {  # POST, behind the login and the CSRF token
        "/console/logout": login.logout,
        "/console/outbox/retry": retry,
        "/console/outbox/cancel": cancel,
    }
    return [
        Route("/console", _home, methods=["GET"]),
        Route("/console/login", login.login_form, methods=["GET"]),
        Route("/console/login", check_login, methods=["POST"]),
        Route("/console/console.css", stylesheet, methods=["GET"]),
        *(Route(path, guarded(sessions, page), methods=["GET"]) for path, page in pages.items()),
        *(
            Route(path, guarded(sessions, form, changes=True), methods=POST)
            for path, form in forms.items()
        ),
    ]


async def _home(request: Request) -> Response:
    return redirect("/console/")


async def _not_found(visit: Visit) -> Response:
    """Any other console address: a page (with the console's headers), not the API's JSON."""
    message = f"There is no console page at {visit.request.url.path}."
    return visit.show("problem.html", 404, title="Not found", message=message)


async def _read_only(words: str, visit: Visit) -> Response:
    """A retry or cancel sent to `touchflow console`: refused, nothing changes."""
    message = f"{words}: this console (`touchflow console`) changes nothing."
    return visit.show("problem.html", 403, title="Read-only", message=message)
