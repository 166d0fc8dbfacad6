"""Twilio's request signature, ``X-Twilio-Signature``: computed, and checked in constant time.

Twilio signs each webhook request with the account's auth token: the base64 of
HMAC-SHA1 over the URL it called followed by every POST parameter's name and
value, sorted by name (byte order, so ``To`` before ``body``); blank values are
signed too. A name sent more than once contributes each distinct value once, in
sorted order, as Twilio's own twilio-python ``RequestValidator`` does.

Twilio is not consistent about the default port in the URL it signs
(``https://host/x`` or ``https://host:443/x``), so a signature over either form
passes, as with Twilio's libraries; any other change to the URL fails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

HEADER = "X-Twilio-Signature"
_DEFAULT_PORTS = {"https": 443, "http": 80}


def signature(token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The ``X-Twilio-Signature`` value Twilio sends for a POST of ``params`` to ``url``."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    mac = hmac.new(token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def is_valid(token: str, url: str, params: Iterable[tuple[str, str]], given: str | None) -> bool:
    """Whether ``given`` (the header's value; None when it is missing) signs this request.

    Every form of the URL is compared, whatever an earlier one gave: the time taken
    does not depend on how much of a guess was right."""
    if not given:
        return False
    pairs = list(params)
    offered = given.strip().encode("utf-8")
    matched = False
    for form in url_forms(url):
        expected = signature(token, form, pairs).encode("ascii")
        matched |= hmac.compare_digest(expected, offered)
    return matched


def url_forms(url: str) -> list[str]:
    """``url`` as given, and with its scheme's default port written out or left off."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    try:
        port = parts.port
    except ValueError:  # not a port number: nothing else to try
        return [url]
    if default is None or (port is not None and port != default):
        return [url]
    host = parts.netloc.rpartition("@")[2]
    userinfo = parts.netloc[: len(parts.netloc) - len(host)]
    bare = host.rsplit(":", 1)[0] if port is not None else host
    other = f"{userinfo}{bare}" if port is not None else f"{userinfo}{bare}:{default}"
    return [url, urlunsplit(parts._replace(netloc=other))]
