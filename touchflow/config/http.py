"""The ``http:`` section of touchflow.yaml, and the two secrets it needs from the environment.

The secrets never sit in touchflow.yaml: the bearer token of the write endpoints
is ``TOUCHFLOW_API_TOKEN``, the key of one-click unsubscribe links is
``TOUCHFLOW_UNSUBSCRIBE_SECRET``. Messages name the variable, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from touchflow.checks import Collector
from touchflow.errors import UserError

API_TOKEN_ENV = "TOUCHFLOW_API_TOKEN"
UNSUBSCRIBE_SECRET_ENV = "TOUCHFLOW_UNSUBSCRIBE_SECRET"
MIN_SECRET_LENGTH = 16
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
_MAX_PUBLIC_URL = 300  # the token (up to ~400 characters) must fit in a List-Unsubscribe URI


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSettings:
    host: str = "127.0.0.1"  # loopback: put a reverse proxy with TLS in front
    port: int = 8787  # 0: any free port (the log line says which)
    public_url: str | None = None  # how recipients reach us, e.g. https://touch.example.com
    max_body_bytes: int = 1_048_576  # a larger request body answers 413
    max_batch: int = 1000  # events per POST /v1/events


class HttpConfigError(UserError):
    """The HTTP interface cannot start as configured (a secret is missing, the port is taken)."""


_KEYS = ("host", "port", "public_url", "max_body_bytes", "max_batch")
_LIMITS = {"port": (0, 65535), "max_body_bytes": (1024, None), "max_batch": (1, None)}


def parse_http(value: Any, line: int, out: Collector) -> HttpSettings | None:
    if value is None:
        return HttpSettings()  # `http:` alone: serve with the defaults
    doc = out.mapping(value, line, what="http")
    if doc is None:
        return None
    out.check_keys(doc, _KEYS, where="http")
    kw: dict[str, Any] = {}
    if "host" in doc:
        host = out.text(doc["host"], doc.line_of("host"), what="http.host")
        if host is not None and not _HOST.fullmatch(host):
            out.add(
                doc.line_of("host"), f"http.host must be an IP address or host name, not {host!r}"
            )
        kw["host"] = host
    for key, (least, most) in _LIMITS.items():
        if key in doc:
            kw[key] = _whole(doc[key], doc.line_of(key), out, key=key, least=least, most=most)
    if "public_url" in doc:
        kw["public_url"] = _public_url(doc["public_url"], doc.line_of("public_url"), out)
    return HttpSettings(**{k: v for k, v in kw.items() if v is not None})


def _whole(
    value: Any, line: int, out: Collector, *, key: str, least: int, most: int | None
) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        if value >= least and (most is None or value <= most):
            return value
    bounds = f"from {least} to {most}" if most is not None else f"≥ {least}"
    out.add(line, f"http.{key} must be a whole number {bounds}, not {value!r}")
    return None


def _public_url(value: Any, line: int, out: Collector) -> str | None:
    text = out.text(value, line, what="http.public_url")
    if text is None:
        return None
    url = text.rstrip("/")
    parts = urlsplit(url)
    bare = url.isascii() and not re.search(r"[\s<>\"'\\]", url)
    if parts.scheme not in ("https", "http") or not parts.netloc or not bare:
        problem = "must be an https:// (or http://) address"
    elif parts.query or parts.fragment:
        problem = "must not have a ?query or #fragment"
    elif len(url) > _MAX_PUBLIC_URL:
        problem = f"must be at most {_MAX_PUBLIC_URL} characters long"
    else:
        return url
    out.add(
        line,
        f"http.public_url {problem}, like https://touchflow.example.com "
        f"(where recipients reach this daemon), not {text!r}",
    )
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSecrets:
    token: str = field(repr=False)  # Authorization: Bearer <token>
    unsubscribe_key: str = field(repr=False)  # signs one-click unsubscribe links


def read_secrets(environ: Mapping[str, str]) -> HttpSecrets:
    """Both secrets the HTTP interface needs; ``HttpConfigError`` naming a missing one."""
    why = "touchflow.yaml has an `http:` section"
    return HttpSecrets(
        token=secret(environ, API_TOKEN_ENV, needed_for=why),
        unsubscribe_key=secret(environ, UNSUBSCRIBE_SECRET_ENV, needed_for=why),
    )


def secret(environ: Mapping[str, str], name: str, *, needed_for: str) -> str:
    """The value of the environment variable ``name``; ``HttpConfigError`` naming it if unusable."""
    value = environ.get(name, "")
    if not value.strip():
        state = "empty" if name in environ else "not set"
        raise HttpConfigError(
            f"{needed_for}, so the environment variable {name} must hold a secret; it is "
            f"{state} (e.g. `export {name}=$(openssl rand -hex 32)`)"
        )
    if len(value) < MIN_SECRET_LENGTH:
        raise HttpConfigError(
            f"the environment variable {name} is too short: use at least "
            f"{MIN_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`)"
        )
    return value
