"""Webhook delivery: one signed JSON POST per touchpoint, over httpx with TLS verified.

Each request carries the touchpoint key as its ``Idempotency-Key``, so a receiver
can drop the one duplicate a crash may cause (the POST answered, the daemon gone
before it recorded that), and a signature over the timestamp and the body:

    Touchflow-Signature: t=1764922800,v1=<hex HMAC-SHA256(secret, "1764922800." + body)>

(the scheme of Stripe's and Svix's webhooks; docs/channels.md has the check in Python).

How an answer counts: 2xx sent; 408, 429, 5xx, a timeout or a connection that fails
are tried again with the daemon's backoff (not sooner than a ``Retry-After`` asks);
any other answer fails the touchpoint with the status and the start of the body.
Redirects are not followed: the signature is for the configured URL. ``timeout`` bounds
the whole request (connecting, sending, and reading the answer), not each read: a
receiver that trickles its answer a byte at a time is cut off like one that is silent.
Answers are asked for uncompressed (``Accept-Encoding: identity``): only the start of a
body is read, and it is shown as it came.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from touchflow import __version__, clock
from touchflow.channels import Delivery, Envelope, Outcome
from touchflow.config.delivery import ChannelConfigError
from touchflow.config.webhook import WebhookSettings

SIGNATURE_HEADER = "Touchflow-Signature"
_RETRIED = frozenset({408, 429})
_ALERTING = frozenset({401, 403, 404, 405, 410})  # the URL or the secret is wrong
_BODY_SHOWN = 200  # characters of a refusal's body kept as the reason
_BODY_READ = 4096  # bytes read of an answer's body at most
_RETRY_AFTER_MAX = 86_400.0  # seconds; a longer wait asked for is cut to a day
IDENTITY = {"Accept-Encoding": "identity"}  # answers as they are: the start is read raw


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``Touchflow-Signature`` header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookChannel:
    """Posts envelopes (JSON bodies) to one URL; safe to call ``send`` from many tasks."""

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        environ: Mapping[str, str],
        wall: Callable[[], datetime] = clock.now,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        secret = environ.get(settings.secret_env, "")
        if not secret:
            raise ChannelConfigError(
                f"delivery.webhook.secret_env names {settings.secret_env}, which is not set "
                "in the environment: set it to the secret the receiver checks signatures with"
            )
        self._settings = settings
        self._secret = secret.encode("utf-8")
        self._wall = wall  # the real time, not `run --now`'s: receivers check it against theirs
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout),
            limits=httpx.Limits(max_connections=settings.connections),
            follow_redirects=False,
            trust_env=False,  # no proxy or CA settings from the environment: as configured
            transport=transport,
            headers=IDENTITY,
        )

    @property
    def name(self) -> str:
        return f"webhook {self._settings.shown_url}"

    @property
    def concurrency(self) -> int:
        return self._settings.connections

    def unprime(self, envelope: Envelope) -> None:
        pass  # nothing is started ahead

    async def send(
        self,
        envelope: Envelope,
        *,
        after: Awaitable[object] | None = None,
        then: Envelope | None = None,
    ) -> Delivery:
        if after is not None:
            await after  # the POST is the delivery: nothing leaves before the last record
        timestamp = int(self._wall().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"touchflow/{__version__}",
            "Idempotency-Key": envelope.key,
            SIGNATURE_HEADER: signature(self._secret, timestamp, envelope.data),
        }
        where = self._settings.shown_url
        try:
            response, body = await post_bounded(
                self._client,
                self._settings.url,
                timeout=self._settings.timeout,
                limit=_BODY_READ,
                content=envelope.data,
                headers=headers,
            )
        except (TimeoutError, httpx.TimeoutException):
            took = f"{self._settings.timeout:g} s"
            return Delivery(outcome=Outcome.RETRY, detail=f"{where}: no answer within {took}")
        except httpx.TransportError as exc:
            detail = f"{where}: {_transport_words(exc)}"
            return Delivery(outcome=Outcome.RETRY, detail=detail, alert=True)
        return answer(response.status_code, response.headers, body, where=where)

    async def aclose(self) -> None:
        await self._client.aclose()


async def post_bounded(
    client: httpx.AsyncClient, url: str, *, timeout: float, limit: int, **request: object
) -> tuple[httpx.Response, bytes]:
    """POST, and read at most ``limit`` bytes of the answer, all within ``timeout`` seconds.

    Raises ``TimeoutError`` when the whole took longer (httpx's own timeouts bound each
    read only), and httpx's ``TransportError`` for a connection that fails.
    """
    body = b""
    async with asyncio.timeout(timeout):
        async with client.stream("POST", url, **request) as response:  # type: ignore[arg-type]
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) >= limit:  # a receiver's error page may be huge
                    break
    return response, body[:limit]


def answer(status: int, headers: Mapping[str, str], body: bytes, *, where: str) -> Delivery:
    """What an HTTP answer means for the touchpoint."""
    if 200 <= status < 300:
        return Delivery(outcome=Outcome.SENT, detail=f"{where} answered {status}", code=status)
    said = _trimmed(body)
    detail = f"{where} answered {status}" + (f": {said}" if said else "")
    if status in _RETRIED or status >= 500:
        wait = retry_after(headers.get("retry-after")) if status in (429, 503) else None
        return Delivery(outcome=Outcome.RETRY, detail=detail, code=status, retry_after=wait)
    if 300 <= status < 400:
        detail += " (redirects are not followed: set delivery.webhook.url to where it points)"
    alert = status in _ALERTING or 300 <= status < 400
    return Delivery(outcome=Outcome.FAILED, detail=detail, code=status, alert=alert)


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` asks to wait (a number or an HTTP date), at most a day."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), _RETRY_AFTER_MAX)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    wait = (when - (now or clock.now())).total_seconds()
    return min(max(wait, 0.0), _RETRY_AFTER_MAX)


def _trimmed(body: bytes) -> str:
    """The start of a body, on one line, without control characters."""
    text = body.decode("utf-8", errors="replace")
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= _BODY_SHOWN else text[: _BODY_SHOWN - 1] + "…"


def _transport_words(exc: httpx.TransportError) -> str:
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({reason})"
    return f"the connection failed ({reason})"
