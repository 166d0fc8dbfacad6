"""Who may see a console page: a live session cookie, and on a POST the form's CSRF token.

A request without a live session is sent to the login page (a POST changes nothing);
a POST whose CSRF token is missing or wrong gets a 403 and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace

from starlette.requests import Request
from starlette.responses import Response

from touchflow.console.backing import Backing, backing_of
from touchflow.console.render import FormError, page, read_form, redirect
from touchflow.console.session import COOKIE, Sessions

LOGIN = "/console/login"
_CSRF = "The form's CSRF token is missing or wrong: reload the page and try again."


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    """A request of a logged-in user, as each page's handler gets it."""

    request: Request
    backing: Backing
    sessions: Sessions
    session: str
    csrf: str  # for the forms this page shows
    form: Mapping[str, str] = field(default_factory=dict)  # a POST's fields

    @property
    def tz(self) -> str:
        return self.backing.engine.project.config.timezone

    @property
    def read_only(self) -> bool:
        """Served by `touchflow console` (touchflow.console.offline): nothing is retried."""
        return bool(getattr(self.request.app.state, "read_only", False))

    def show(self, name: str, status: int = 200, **values: object) -> Response:
        """The page ``name`` with what every page's frame needs (the logout form's token)."""
        project = self.backing.engine.project.config.name
        return page(
            name, status, csrf=self.csrf, project=project, tz=self.tz,
            read_only=self.read_only, **values,
        )  # fmt: skip


Handler = Callable[[Visit], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(sessions: Sessions, handler: Handler, *, changes: bool = False) -> Endpoint:
    """The endpoint for ``handler``: only for a live session; ``changes``: a POST whose
    form must carry the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        sid = sessions.valid(request.cookies.get(COOKIE))
        if sid is None:
            return redirect(LOGIN)
        visit = Visit(
            request=request, backing=backing_of(request), sessions=sessions, session=sid,
            csrf=sessions.csrf(sid),
        )  # fmt: skip
        if changes:
            try:
                form = await read_form(request)
            except FormError as exc:  # no form, so no CSRF token either
                return visit.show("problem.html", 403, title="Refused", message=f"{exc}.")
            if not sessions.csrf_ok(sid, form.get("csrf")):
                return visit.show("problem.html", 403, title="Refused", message=_CSRF)
            visit = replace(visit, form=form)
        return await handler(visit)

    return endpoint
