"""In-memory stand-ins for touchflow's boundaries, for tests where the wire is not the point.

Where a test is about delivery itself, it talks to a real server
(tests/smtp_support.py) or a real Maildir; these are for the dispatcher's own
behaviour (stopping, gating, batch sizes), which a server would only slow down.
"""

from __future__ import annotations

from collections.abc import Awaitable

from touchflow.channels import Delivery, Envelope, Outcome


class RecordingChannel:
    """A channel that takes every message at once and keeps it in ``sent``.

    Satisfies touchflow.channels.Channel. A test that needs a send to do more (wait,
    look at the store, stop the dispatcher) overrides ``send`` and ends it with
    ``return self.accept(envelope)``.
    """

    def __init__(self, *, name: str = "recording", concurrency: int = 2) -> None:
        self.name = name
        self.concurrency = concurrency
        self.sent: list[Envelope] = []
        self.named: list[Envelope | None] = []  # each accepted send's ``then``
        self.unprimed: list[Envelope] = []  # named as ``then``, and not sent after all

    async def send(
        self,
        envelope: Envelope,
        *,
        after: Awaitable[object] | None = None,
        then: Envelope | None = None,
    ) -> Delivery:
        if after is not None:
            await after
        return self.accept(envelope, then)

    def accept(self, envelope: Envelope, then: Envelope | None = None) -> Delivery:
        """Keep the message (and the one named next) and answer as a server that took it."""
        self.sent.append(envelope)
        self.named.append(then)
        return Delivery(outcome=Outcome.SENT, detail="250 ok", code=250)

    def unprime(self, envelope: Envelope) -> None:
        self.unprimed.append(envelope)

    async def aclose(self) -> None:
        pass
