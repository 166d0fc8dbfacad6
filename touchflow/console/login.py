"""``/console/login`` and ``/console/logout``: the API token for a session cookie.

The token is compared in constant time (``hmac.compare_digest``, as the JSON API's
bearer check does). The cookie is ``HttpOnly`` (no script reads it), ``Secure``
(browsers send it only over https, and to http://localhost and http://127.0.0.1,
which they count as secure), ``SameSite=Strict`` (no other site's page sends it) and
``Path=/console`` (the JSON API never sees it). An address that gives wrong tokens
again and again waits (``touchflow.console.throttle``).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from touchflow import logs
from touchflow.console.backing import backing_of
from touchflow.console.render import FormError, page, read_form, redirect
from touchflow.console.session import COOKIE, LIFETIME, Sessions
from touchflow.console.throttle import FAILS, WINDOW, Throttle
from touchflow.console.visit import LOGIN, Visit

HOME = "/console/"


async def login_form(request: Request) -> Response:
    name = backing_of(request).engine.project.config.name
    return page("login.html", project=name, problem=None)


async def check_login(sessions: Sessions, throttle: Throttle, request: Request) -> Response:
    backing = backing_of(request)
    name = backing.engine.project.config.name
    address = request.client.host if request.client else "unknown"
    try:
        given = (await read_form(request)).get("token", "")
    except FormError as exc:
        return page("login.html", 400, project=name, problem=str(exc))
    right = hmac.compare_digest(given.strip().encode(), backing.secrets.token.encode())
    if not right and (wait := throttle.wait(address)):
        problem = f"Too many wrong tokens from {address}: try again in {wait} s."
        answer = page("login.html", 429, project=name, problem=problem)
        answer.headers["Retry-After"] = str(wait)
        return answer
    if not right:
        logs.log.warning("console: a login with a wrong token from %s was refused", address)
        if throttle.failed(address):
            logs.log.warning(
                "console: logins from %s wait: %d wrong tokens in %d s", address, FAILS, WINDOW
            )
        problem = "That is not the daemon's TOUCHFLOW_API_TOKEN."
        return page("login.html", 401, project=name, problem=problem)
    throttle.passed(address)
    response = redirect(HOME)
    response.set_cookie(
        COOKIE, sessions.open(), max_age=LIFETIME, path="/console", secure=True,
        httponly=True, samesite="strict",
    )  # fmt: skip
    logs.log.info("console: logged in")
    return response


async def logout(visit: Visit) -> Response:
    visit.sessions.close(visit.session)
    response = redirect(LOGIN)
    response.delete_cookie(COOKIE, path="/console", secure=True, httponly=True, samesite="strict")
    return response
