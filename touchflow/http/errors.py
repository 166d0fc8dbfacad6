"""Bad requests answered as JSON that names the field; reading a body within its limit.

Every error answer has the same shape::

    {"error": "invalid_event", "message": "events[1].at: ...",
     "problems": [{"field": "at", "index": 1, "message": "..."}]}

An error is raised before anything is written, so an error answer always means
that nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from touchflow.data.fields import FieldProblem
from touchflow.data.readers import has_nul
from touchflow.errors import TouchflowError

_SHOWN = 5  # problems joined into "message"; all of them are in "problems"


class JSONLine(JSONResponse):
    """Compact JSON and a line end, so `curl` output does not run into the next prompt."""

    def render(self, content: Any) -> bytes:
        return super().render(content) + b"\n"


class ApiError(TouchflowError):
    """A request touchflow answers with a 4xx and changes nothing for."""

    def __init__(
        self,
        status: int,
        code: str,
        problems: Sequence[FieldProblem],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.problems = tuple(problems)
        self.headers = dict(headers or {})
        super().__init__(summary(self.problems))

    def response(self) -> JSONLine:
        body = {
            "error": self.code,
            "message": str(self),
            "problems": [
                {"field": p.field, "index": p.index, "message": p.message} for p in self.problems
            ],
        }
        return JSONLine(body, status_code=self.status, headers=self.headers)


def fail(status: int, code: str, field: str | None, message: str, **kw: Any) -> ApiError:
    """An ``ApiError`` with one problem."""
    return ApiError(status, code, [FieldProblem(field=field, message=message)], **kw)


def summary(problems: Sequence[FieldProblem]) -> str:
    """``events[1]: at "…" has no UTC offset; …`` — which item, then what."""
    # The messages name their field already ("at ... has no UTC offset").
    parts = [
        f"events[{p.index}]: {p.message}" if p.index is not None else p.message
        for p in problems[:_SHOWN]
    ]
    more = len(problems) - _SHOWN
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


async def read_json(request: Request, *, limit: int) -> Any:
    """The request body as JSON; 413 past ``limit`` bytes, 400 if it is not JSON."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # no (or a false) Content-Length: stop reading at the limit
            raise _too_large(limit)
        chunks.append(chunk)
    return parse_json(b"".join(chunks))


def parse_json(data: bytes) -> Any:
    if not data.strip():
        raise fail(400, "invalid_json", "body", "the body is empty; send a JSON object")
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        # "\ud800" is valid JSON but no character: it could not be stored.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise fail(400, "invalid_json", "body", "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise fail(400, "invalid_json", "body", message) from None
    except (RecursionError, ValueError) as exc:  # nested too deep; NaN/Infinity
        raise fail(400, "invalid_json", "body", f"invalid JSON: {exc}") from None
    if has_nul(value):  # valid JSON ("\u0000"), but no store keeps it (PostgreSQL refuses)
        raise fail(400, "invalid_json", "body", "a NUL character (\\u0000) is in the text")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _too_large(limit: int) -> ApiError:
    return fail(
        413,
        "body_too_large",
        "body",
        f"the body is larger than http.max_body_bytes ({limit} bytes); send fewer events at once",
    )
