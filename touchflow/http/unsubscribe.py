"""``/v1/unsubscribe/{token}``: RFC 8058 one-click unsubscribe, and a page for people.

``POST`` (what a mail client sends for ``List-Unsubscribe-Post``, and what the
page's button sends) suppresses the token's address for marketing at once: the
suppression is in the store before the answer, every later plan holds its
marketing touchpoints, and the dispatcher re-plans each row just before sending
it. No cookie, no Authorization header: the token is the proof.

``GET`` only shows a page with a button; it changes nothing (link checkers and
mail scanners follow links).
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from touchflow import logs
from touchflow.http.errors import JSONLine, fail
from touchflow.http.state import api_of
from touchflow.messages.unsubscribe import TokenError, Unsubscribe, read_token
from touchflow.models import Suppression, SuppressionScope

REASON = "one-click unsubscribe"
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Robots-Tag": "noindex",
}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem">
<h1>{title}</h1>
{body}
</body></html>
"""


async def show_page(request: Request) -> Response:
    api = api_of(request)
    name = api.engine.project.config.name
    try:
        wish = read_token(api.secrets.unsubscribe_key, request.path_params["token"])
    except TokenError as exc:
        return _page("Link not valid", f"<p>{html.escape(str(exc))}.</p>", status=400)
    body = (
        f"<p>Stop marketing e-mails from {html.escape(name)} to "
        f"<b>{html.escape(masked(wish.address))}</b>?</p>\n"
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>\n'
        "<p><small>Messages you need, such as appointment reminders, still reach you."
        "</small></p>"
    )
    return _page("Unsubscribe", body)


async def unsubscribe(request: Request) -> Response:
    api = api_of(request)
    wants_html = "text/html" in request.headers.get("accept", "")
    try:
        wish = read_token(api.secrets.unsubscribe_key, request.path_params["token"])
    except TokenError as exc:
        if wants_html:
            return _page("Link not valid", f"<p>{html.escape(str(exc))}.</p>", status=400)
        raise fail(400, "invalid_token", "token", str(exc)) from None
    await _suppress(request, wish)
    if wants_html:
        who = html.escape(masked(wish.address))
        name = html.escape(api.engine.project.config.name)
        return _page("Unsubscribed", f"<p>{who} gets no more marketing e-mails from {name}.</p>")
    return JSONLine(
        {"unsubscribed": masked(wish.address), "category": wish.category.value},
        headers={"Cache-Control": "no-store"},
    )


async def _suppress(request: Request, wish: Unsubscribe) -> None:
    api = api_of(request)
    entry = Suppression(
        email=wish.address,
        scope=SuppressionScope.MARKETING,
        reason=REASON,
        created_at=api.engine.clock.now(),
    )
    await api.engine.store.add_suppression(entry)
    logs.log.info(
        "HTTP: %s unsubscribed from marketing", masked(wish.address),
        extra={"tf": {"event": "unsubscribe"}},
    )  # fmt: skip
    await api.replanner.replan()  # pending marketing rows are suppressed before the answer


def masked(address: str) -> str:
    """``a•••@example.com``: enough to recognise, not enough to read off a screen."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    text = _PAGE.format(title=html.escape(title), body=body)
    return HTMLResponse(text, status_code=status, headers=_HEADERS)
