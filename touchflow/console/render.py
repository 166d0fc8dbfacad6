"""Pages from the console's Jinja templates, and the headers every console answer carries.

Every template is escaped (``autoescape=True`` for all of them, whatever the file's
name): customer data is untrusted, and a customer named ``<script>`` is shown, never run.
The Content-Security-Policy allows scripts, styles and frames only from the daemon
itself and no inline script at all, so even a missed escape could not run one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from touchflow.timecalc import zone

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_FORM = 8192  # bytes of a form's body: a token, a key and a CSRF token fit many times


class FormError(Exception):
    """A form body that cannot be read (too large, not a form, not UTF-8): a 400 page."""


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("touchflow.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["id_path"] = lambda text: quote(str(text), safe="")
    env.filters["local"] = local_text
    return env


def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    text = environment().get_template(name).render(**values)
    return HTMLResponse(text, status_code=status, headers=HEADERS)


def redirect(to: str, **kw: Any) -> Response:
    """303 See Other: after a POST the browser GETs ``to``."""
    return RedirectResponse(to, status_code=303, headers=HEADERS, **kw)


def local_text(instant: datetime | None, tz_name: str) -> str:
    """``2026-11-24 13:00`` in ``tz_name``; an empty text for None."""
    if instant is None:
        return ""
    return f"{instant.astimezone(zone(tz_name)):%Y-%m-%d %H:%M}"


async def read_form(request: Request) -> Mapping[str, str]:
    """An ``application/x-www-form-urlencoded`` body, each field's first value."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormError("send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise FormError(f"the form is larger than {MAX_FORM} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise FormError("the form is not UTF-8 text") from None
    return {name: values[0] for name, values in fields.items()}


def stylesheet_text() -> str:
    return resources.files("touchflow.console").joinpath("static/console.css").read_text("utf-8")


async def stylesheet(request: Request) -> Response:
    return Response(stylesheet_text(), media_type="text/css", headers=HEADERS)
