"""The router: each envelope to the channel its rule named; SMTP's `then` hint only within
one channel; a channel the daemon was started without answers "retry, restart"."""

from __future__ import annotations

import asyncio

from fakes import RecordingChannel

from touchflow.channels import Envelope, Outcome
from touchflow.channels.router import Router


def envelope(key: str, channel: str) -> Envelope:
    return Envelope(key=key, sender="", recipient="", data=b"", message_id=key, channel=channel)


def test_each_envelope_goes_to_its_channel_and_then_only_within_one() -> None:
    email, webhook = RecordingChannel(name="maildir x"), RecordingChannel(name="webhook y")
    router = Router({"email": email, "webhook": webhook})
    mail, hook, mail2 = envelope("m", "email"), envelope("h", "webhook"), envelope("m2", "email")

    async def go() -> None:
        await router.send(mail, then=hook)  # the next one is not email's: not named
        await router.send(hook, then=mail2)
        await router.send(mail2, then=envelope("m3", "email"))
        router.unprime(envelope("m3", "email"))
        await router.aclose()

    asyncio.run(go())
    assert [e.key for e in email.sent] == ["m", "m2"]
    assert [e.key for e in webhook.sent] == ["h"]
    assert [None if e is None else e.key for e in email.named] == [None, "m3"]
    assert webhook.named == [None]
    assert [e.key for e in email.unprimed] == ["m3"]
    assert (router.name, router.concurrency) == ("maildir x + webhook y", 4)


def test_a_channel_the_daemon_has_not_is_retried_with_an_alert_not_sent_by_another() -> None:
    email = RecordingChannel()
    router = Router({"email": email})
    delivery = asyncio.run(router.send(envelope("h", "webhook")))
    assert (delivery.outcome, delivery.alert) == (Outcome.RETRY, True)
    assert "restart it" in delivery.detail
    assert email.sent == []
