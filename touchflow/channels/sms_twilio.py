"""Twilio's Messages API: one form POST per text, over httpx with TLS verified.

``POST {api_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with ``To``, ``Body``
and ``From`` (or ``MessagingServiceSid``), HTTP Basic auth with the account SID and the
auth token, both read from the environment variables ``delivery.sms`` names.

How an answer counts (Twilio's error body is JSON: ``code``, ``message``, ``more_info``):

- 200/201 with a JSON body whose ``sid`` is a message's (``SM…``, ``MM…``): sent, the SID
  kept in the detail; any other 200/201 is not Twilio's answer (a proxy, a wrong
  ``api_url``): retried with an alert;
- 429 (not sooner than its ``Retry-After``), 5xx, a timeout, a failed connection: retried
  (``timeout`` bounds the whole request and answer, as for webhooks; answers are asked
  for uncompressed);
- 400 with code 21610 (the recipient replied STOP to this sender): failed, and the
  number suppressed (``Outcome.BAD_MAILBOX``); 21611 (the sender's queue is full): retried;
- 401/403/404 or a 3xx (the SID, the token or ``api_url`` is wrong), and the codes of a
  sender or an account that cannot send (21606, 21212, 21659, 21660, 21608, 217xx: the
  Messaging Service): retried with an alert, like SMTP's refused login: the configuration
  needs a person, and failing every touchpoint for good would lose them;
- any other 4xx (21211 not a valid number, 21614 not a mobile number…): failed.

A detail never holds the auth token; the account SID is shown as ``AC…`` and the
customer's number, where Twilio's message quotes it, masked (``+49•••78``).

Twilio has no idempotency key: a text Twilio created just before the daemon died (before
the store recorded it), or whose answer was lost or a 5xx, is sent again (docs/channels.md).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import httpx

from touchflow import __version__
from touchflow.channels import Delivery, Outcome
from touchflow.channels.sms import masked
from touchflow.channels.webhook import IDENTITY, post_bounded, retry_after
from touchflow.config.delivery import ChannelConfigError
from touchflow.config.sms import TwilioSettings

MAX_BODY = 1600  # characters Twilio takes in one Body
UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient"
QUEUE_FULL = 21611  # "This 'From' number has exceeded the maximum number of queued messages"
_ALERTING = frozenset({401, 403, 404})  # the account SID or the token (or api_url) is wrong
# The sender or the account cannot send (not this recipient's fault): 21606 not a
# message-capable sender, 21212 an invalid From, 21659 not a Twilio number, 21660 a From of
# another account, 21608 a trial account's unverified To; 217xx: the Messaging Service.
_SENDER_CODES = frozenset({21606, 21212, 21659, 21660, 21608})
_SHOWN = 200  # characters of Twilio's message kept in a detail
# Bytes of an answer read at most: all of Twilio's, which quotes the text (1600 emoji,
# JSON-escaped, are 19,200 bytes): a cut answer would not parse and would be retried.
_BODY_READ = 64 * 1024


class TwilioProvider:
    """Sends texts through one Twilio account; safe to call from many tasks at once."""

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        environ: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        sid = _required(environ, settings.account_sid_env, "account_sid_env", "account SID (AC…)")
        token = _required(environ, settings.auth_token_env, "auth_token_env", "auth token")
        self._settings = settings
        self._sid = sid
        self._url = f"{settings.api_url}/2010-04-01/Accounts/{sid}/Messages.json"
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(sid, token),
            timeout=httpx.Timeout(settings.timeout),
            limits=httpx.Limits(max_connections=settings.connections),
            follow_redirects=False,
            trust_env=False,  # no proxy or CA settings from the environment: as configured
            transport=transport,
            headers={"User-Agent": f"touchflow/{__version__}", **IDENTITY},
        )

    @property
    def name(self) -> str:
        return f"twilio {self._settings.api_url}"

    @property
    def concurrency(self) -> int:
        return self._settings.connections

    async def send_text(self, *, to: str, text: str, key: str) -> Delivery:
        if len(text) > MAX_BODY:  # Twilio would refuse it (21617): said without asking
            detail = f"the text is {len(text)} characters; Twilio takes at most {MAX_BODY}"
            return Delivery(outcome=Outcome.FAILED, detail=detail)
        form = {"To": to, "Body": text}
        if self._settings.messaging_service_sid:
            form["MessagingServiceSid"] = self._settings.messaging_service_sid
        else:
            assert self._settings.sender is not None  # read_sms needs one of them
            form["From"] = self._settings.sender
        try:
            response, body = await post_bounded(
                self._client, self._url, timeout=self._settings.timeout, limit=_BODY_READ, data=form
            )
        except (TimeoutError, httpx.TimeoutException):
            took = f"{self._settings.timeout:g} s"
            return Delivery(outcome=Outcome.RETRY, detail=f"Twilio: no answer within {took}")
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            what = "cannot connect" if isinstance(exc, httpx.ConnectError) else "connection failed"
            detail = f"Twilio: {what} ({reason})"
            return Delivery(outcome=Outcome.RETRY, detail=detail, alert=True)
        delivery = answer(response.status_code, response.headers, body)
        # Twilio's messages may quote the request's path, which holds the account SID, and
        # the number ("The 'To' number +15558675310 is not…"): details are logged and shown.
        return _without(_without(delivery, self._sid, "AC…"), to, masked(to))

    async def aclose(self) -> None:
        await self._client.aclose()


def _required(environ: Mapping[str, str], variable: str, key: str, what: str) -> str:
    value = environ.get(variable, "")
    if not value:
        raise ChannelConfigError(
            f"delivery.sms.{key} names {variable}, which is not set in the environment: "
            f"set it to your Twilio {what}"
        )
    return value


def answer(status: int, headers: Mapping[str, str], body: bytes) -> Delivery:
    """What Twilio's answer means for the touchpoint."""
    doc = _json(body)
    if status in (200, 201):
        sid = doc.get("sid")
        if isinstance(sid, str) and sid.startswith(("SM", "MM")):
            said = f"Twilio accepted it as {_one_line(sid)} ({status})"
            return Delivery(outcome=Outcome.SENT, detail=said, code=status)
        detail = f"{_detail(status, None, None, body)} (the answer is not Twilio's: check api_url)"
        return Delivery(outcome=Outcome.RETRY, detail=detail, code=status, alert=True)
    code = doc.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    detail = _detail(status, code, doc.get("message"), body)
    if status == 429 or status >= 500 or code == QUEUE_FULL:
        wait = retry_after(headers.get("retry-after")) if status in (429, 503) else None
        return Delivery(outcome=Outcome.RETRY, detail=detail, code=status, retry_after=wait)
    if code == UNSUBSCRIBED:
        return Delivery(outcome=Outcome.BAD_MAILBOX, detail=detail, code=status)
    if status in _ALERTING or 300 <= status < 400:
        detail += " (check the account SID and auth token in the environment, and api_url)"
        return Delivery(outcome=Outcome.RETRY, detail=detail, code=status, alert=True)
    if code in _SENDER_CODES or (code is not None and 21700 <= code <= 21799):
        detail += " (check delivery.sms.from or messaging_service_sid, and the Twilio account)"
        return Delivery(outcome=Outcome.RETRY, detail=detail, code=status, alert=True)
    return Delivery(outcome=Outcome.FAILED, detail=detail, code=status)


def _without(delivery: Delivery, text: str, shown: str) -> Delivery:
    if text not in delivery.detail:
        return delivery
    return dataclasses.replace(delivery, detail=delivery.detail.replace(text, shown))


def _json(body: bytes) -> dict[str, object]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _detail(status: int, code: int | None, message: object, body: bytes) -> str:
    """``Twilio 21610 (HTTP 400): Attempt to send to unsubscribed recipient``, trimmed."""
    said = _one_line(message if isinstance(message, str) else body.decode("utf-8", "replace"))
    head = f"Twilio {code} (HTTP {status})" if code is not None else f"Twilio answered {status}"
    return f"{head}: {said}" if said else head


def _one_line(text: str) -> str:
    """``text`` on one line, without control characters, cut to ``_SHOWN`` characters."""
    said = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return said if len(said) <= _SHOWN else said[: _SHOWN - 1] + "…"
