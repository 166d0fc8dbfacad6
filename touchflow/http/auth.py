"""Bearer tokens for the endpoints that write or show customer data.

The token comes from ``TOUCHFLOW_API_TOKEN``; the comparison takes the same time
whatever the given token is (``hmac.compare_digest``), so timing does not tell
how much of a guess was right.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from touchflow.http.errors import ApiError, fail

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="touchflow"'}


def require_token(request: Request, token: str) -> None:
    """Return if the request carries ``Authorization: Bearer <token>``; else raise a 401."""
    header = request.headers.get("authorization")
    if header is None:
        raise _unauthorized("missing header Authorization: Bearer <TOUCHFLOW_API_TOKEN>")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        raise _unauthorized("the Authorization header must be `Bearer <token>`")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise _unauthorized("the bearer token is not the daemon's TOUCHFLOW_API_TOKEN")


def _unauthorized(message: str) -> ApiError:
    return fail(401, "unauthorized", "Authorization", message, headers=_CHALLENGE)
