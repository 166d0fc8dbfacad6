"""What a PostgreSQL URL may show of itself in a message: never its password.

libpq's own messages may quote the URL, or the part of it it could not read (a
password with a bad percent-escape, say). So a URL is read first, here, and one that
cannot be read is refused in words of our own; and every driver message shown has the
URL's password (as written and decoded) and the URL itself taken out.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from touchflow.config.store import shown_location
from touchflow.errors import StoreError


def checked(url: str, doing: str) -> None:
    """``StoreError`` (``cannot DOING store …``) unless libpq can read ``url``."""
    try:
        conninfo_to_dict(url)
    except psycopg.Error:
        raise StoreError(
            f"cannot {doing} store {shown_location(url)}: the URL is malformed (write it as "
            "postgresql://user@host:port/database, with %XX for special characters)"
        ) from None


def driver_words(exc: BaseException, url: str) -> str:
    """The first line of a driver's message, without anything secret ``url`` holds."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "…")
    return text


def _secrets(url: str) -> set[str]:
    found = {url}
    try:
        found.add(str(conninfo_to_dict(url).get("password") or ""))
    except psycopg.Error:
        pass
    try:
        raw = urlsplit(url).password
    except ValueError:
        raw = None
    if raw:
        found |= {raw, unquote(raw)}
    return {s for s in found if s}
