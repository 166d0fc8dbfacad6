"""``delivery.webhook:`` in touchflow.yaml: where webhook rules post, and the signing secret's name.

HTTPS is required: a plain ``http://`` URL is accepted only for this machine
(127.0.0.1, ::1, localhost), where tests and local relays listen. The secret that
signs each request comes from the environment variable ``secret_env`` names; it
never sits in touchflow.yaml, and a value that could be one is never repeated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from touchflow.checks import Collector
from touchflow.errors import shown
from touchflow.yamlload import LineDict

_KEYS = ("url", "secret_env", "timeout", "connections")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSettings:
    url: str  # https://, or http:// to this machine only
    secret_env: str  # the name of the environment variable holding the signing secret
    timeout: float = 10.0  # seconds for the whole request (connect, send, answer)
    connections: int = 4  # requests in flight at once

    @property
    def shown_url(self) -> str:
        """The URL without its query (which may carry a token), for logs and details."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"


def read_webhook(value: Any, line: int, out: Collector) -> WebhookSettings | None:
    """Read ``delivery.webhook``; every problem goes to ``out`` with its line."""
    doc = out.mapping(value, line, what="delivery.webhook")
    if doc is None:
        return None
    out.check_keys(doc, _KEYS, where="delivery.webhook", required=("url", "secret_env"))
    url = _read_url(doc, out) if "url" in doc else None
    secret_env = _read_secret_env(doc, out) if "secret_env" in doc else None
    kw: dict[str, Any] = {}
    if "timeout" in doc:
        kw["timeout"] = positive(doc, "timeout", out, whole=False, where="delivery.webhook")
    if "connections" in doc:
        kw["connections"] = positive(doc, "connections", out, whole=True, where="delivery.webhook")
    if url is None or secret_env is None or None in kw.values():
        return None
    return WebhookSettings(url=url, secret_env=secret_env, **kw)


def _read_url(doc: LineDict, out: Collector) -> str | None:
    text = out.text(doc["url"], doc.line_of("url"), what="delivery.webhook.url")
    if text is None:
        return None
    problem = url_problem(text)
    if problem is not None:
        out.add(doc.line_of("url"), f"delivery.webhook.url {problem}")
        return None
    return text


def url_problem(text: str) -> str | None:
    """What is wrong with a webhook URL, or None. Never repeats it: it may hold a token."""
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a URL like https://hooks.example.com/touchflow"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an https:// URL like https://hooks.example.com/touchflow"
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        return (
            "must use https:// (plain http:// only to 127.0.0.1, ::1 or localhost, "
            "for a receiver on this machine)"
        )
    if parts.username or parts.password:
        return "must not carry a user name or password: the requests are signed instead"
    if parts.fragment or any(c in text for c in "\r\n\x00 "):
        return "must not hold spaces, line breaks or a #fragment"
    return None


def _read_secret_env(doc: LineDict, out: Collector) -> str | None:
    raw = doc["secret_env"]
    if isinstance(raw, str) and _ENV_NAME.fullmatch(raw):
        return raw
    out.add(
        doc.line_of("secret_env"),
        "delivery.webhook.secret_env names an environment variable, e.g. "
        "TOUCHFLOW_WEBHOOK_SECRET (capital letters, digits and _); never put the secret "
        "itself in touchflow.yaml",
    )
    return None


def positive(
    doc: LineDict, key: str, out: Collector, *, whole: bool, where: str
) -> float | int | None:
    """``doc[key]`` as a number > 0 (a whole one ≥ 1 with ``whole``), or None and a problem
    naming ``where.key`` (also for ``delivery.sms``)."""
    raw = doc[key]
    number = isinstance(raw, int) or (not whole and isinstance(raw, float))
    if number and not isinstance(raw, bool) and raw > 0:
        return int(raw) if whole else float(raw)
    what = "a whole number ≥ 1" if whole else "a number > 0 (seconds)"
    out.add(doc.line_of(key), f"{where}.{key} must be {what}, not {shown(raw)}")
    return None
