"""One ``Channel`` over several: each envelope goes to the channel its rule named.

The dispatcher runs one sender per unit of ``concurrency``; with a webhook
configured that is the email channel's and the webhook's together, so a burst of
one kind waits on its own channel's limit (SMTP's pool, the webhook's connections)
and the other kind still has senders. ``then`` (SMTP's pipelining hint) is passed on
only when the next envelope goes through the same channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping

from touchflow.channels import Channel, Delivery, Envelope, Outcome


class Router:
    """Routes by ``Envelope.channel`` ("email", "webhook", "sms") to the channels given."""

    def __init__(self, channels: Mapping[str, Channel]) -> None:
        self._channels = dict(channels)

    @property
    def name(self) -> str:
        return " + ".join(channel.name for channel in self._channels.values())

    @property
    def concurrency(self) -> int:
        return sum(channel.concurrency for channel in self._channels.values())

    async def send(
        self,
        envelope: Envelope,
        *,
        after: Awaitable[object] | None = None,
        then: Envelope | None = None,
    ) -> Delivery:
        channel = self._channels.get(envelope.channel)
        if channel is None:
            if after is not None:
                await after
            return Delivery(
                outcome=Outcome.RETRY,
                detail=f"this daemon has no {envelope.channel} channel: it was configured "
                "after the daemon started; restart it (touchflow.yaml `delivery:`)",
                alert=True,
            )
        if then is not None and then.channel != envelope.channel:
            then = None
        return await channel.send(envelope, after=after, then=then)

    def unprime(self, envelope: Envelope) -> None:
        channel = self._channels.get(envelope.channel)
        if channel is not None:
            channel.unprime(envelope)

    async def aclose(self) -> None:
        await asyncio.gather(*(channel.aclose() for channel in self._channels.values()))
