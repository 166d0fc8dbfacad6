"""Channels deliver composed messages: SMTP (aiosmtplib) or a local Maildir, webhooks, SMS.

Email goes through the one channel ``delivery:`` configures; a rule with ``channel:
webhook`` posts to ``delivery.webhook``, one with ``channel: sms`` texts through the
provider of ``delivery.sms`` (``touchflow.channels.sms``). ``touchflow.channels.router`` hands each
envelope to its channel, so the dispatcher sees one ``Channel`` either way.

The boundary is small on purpose. A channel never raises for a delivery
problem: it answers with a ``Delivery`` that says what happened in words an
operator can act on, classified so the dispatcher can decide the outbox state
(sent, retry, failed, failed and suppress the address). Secrets never appear
in a ``Delivery``'s detail.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol


class Outcome(enum.StrEnum):
    SENT = "sent"  # the server accepted the message (or it was written to the Maildir)
    RETRY = "retry"  # temporary: 4xx, timeout, dropped connection, TLS not offered, HTTP 5xx...
    BAD_MAILBOX = "bad_mailbox"  # permanent 5.1.x, Twilio 21610: fail, suppress the address
    FAILED = "failed"  # other permanent failures (5.7.x, other 5xx): fail, alert, keep address


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """One message to deliver: envelope addresses and the exact bytes (CRLF line ends), or
    for a webhook the JSON body (``sender`` and ``recipient`` empty), or for an SMS the
    text in UTF-8 (``recipient`` the E.164 number, ``sender`` empty)."""

    key: str  # the touchpoint key, for logs (and a webhook's Idempotency-Key)
    sender: str  # bare address for MAIL FROM
    recipient: str  # bare address for RCPT TO
    data: bytes
    message_id: str  # a webhook's is its key
    channel: str = "email"  # the rule's channel: which channel delivers it


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    outcome: Outcome
    detail: str = ""  # e.g. "451 4.3.0 mailbox busy (after DATA)"; never a secret
    code: int | None = None  # SMTP reply code when there was one
    alert: bool = False  # an operator should look (TLS refused, auth failed, 5.7.x...)
    # With RETRY: the receiver asked not to be tried again sooner (HTTP Retry-After), seconds.
    retry_after: float | None = None


class Channel(Protocol):
    """Delivers envelopes. Safe to call ``send`` from many tasks at once."""

    @property
    def name(self) -> str:
        """How logs and `touchflow outbox` name it: "smtp 127.0.0.1:587" or "maildir DIR"."""
        ...

    @property
    def concurrency(self) -> int:
        """How many sends the dispatcher may have in flight at once."""
        ...

    async def send(
        self,
        envelope: Envelope,
        *,
        after: Awaitable[object] | None = None,
        then: Envelope | None = None,
    ) -> Delivery:
        """Deliver one message. With ``after``, the step that completes the delivery (the
        message after DATA, the rename into ``new/``) waits until ``after`` is done, and
        if ``after`` raises, nothing is delivered and the exception propagates. The work
        before it (for SMTP: connecting, MAIL, RCPT and DATA) need not wait.

        ``then`` is a hint: the message this caller sends next. A channel may start on
        it early (SMTP pipelines its MAIL, RCPT and DATA behind this message's end);
        nothing of its content goes out before its own ``send``. A caller that named a
        message as ``then`` and does not send it after all calls ``unprime`` with it."""
        ...

    def unprime(self, envelope: Envelope) -> None:
        """Let go of what was started for ``envelope`` as a ``then`` (SMTP: close the
        connection waiting for it); nothing when nothing was."""
        ...

    async def aclose(self) -> None:
        """Close pooled connections (QUIT); idempotent."""
        ...
