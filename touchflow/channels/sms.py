"""The SMS channel: one text per touchpoint, handed to a provider (Twilio, or a folder).

The channel does what every provider shares: it waits for ``after`` (nothing leaves
before the claim is recorded), reads the text out of the envelope (UTF-8 in
``Envelope.data``, the number in ``Envelope.recipient``), refuses a number that is
not E.164 without asking anyone, and bounds how many texts are in flight at once.
A provider is a small class with one method, ``send_text``, that answers with a
``Delivery`` (``touchflow.channels.sms_twilio``, ``touchflow.channels.sms_folder``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Protocol

from touchflow.channels import Delivery, Envelope, Outcome

E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class SmsProvider(Protocol):
    """Sends one text to one number; never raises for a delivery problem."""

    @property
    def name(self) -> str:
        """How logs name it: "twilio https://api.twilio.com" or "folder DIR"."""
        ...

    @property
    def concurrency(self) -> int:
        """How many texts may be in flight at once."""
        ...

    async def send_text(self, *, to: str, text: str, key: str) -> Delivery:
        """Send ``text`` to ``to`` (E.164); ``key`` is the touchpoint's, for logs and files."""
        ...

    async def aclose(self) -> None:
        """Close connections; idempotent."""
        ...


class SmsChannel:
    """A ``Channel`` for envelopes whose ``channel`` is "sms", over one provider."""

    def __init__(self, provider: SmsProvider) -> None:
        self._provider = provider
        self._slots = asyncio.Semaphore(provider.concurrency)

    @property
    def name(self) -> str:
        return f"sms {self._provider.name}"

    @property
    def concurrency(self) -> int:
        return self._provider.concurrency

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
            await after  # the request is the delivery: nothing leaves before the record
        to = envelope.recipient
        if not E164.fullmatch(to):
            return Delivery(
                outcome=Outcome.FAILED,
                detail=f"not a phone number in E.164 form (like +15017122661): {to[:40]!r}",
            )
        text = envelope.data.decode("utf-8", errors="replace")
        if not text.strip():
            return Delivery(outcome=Outcome.FAILED, detail="the text is empty (sms.txt)")
        async with self._slots:
            return await self._provider.send_text(to=to, text=text, key=envelope.key)

    async def aclose(self) -> None:
        await self._provider.aclose()


def masked(number: str) -> str:
    """``+49•••78``: enough to recognise, not enough to read off a screen (logs, details)."""
    return f"{number[:3]}•••{number[-2:]}"
