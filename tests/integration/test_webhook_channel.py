"""The webhook channel against a real HTTP receiver on 127.0.0.1: each answer, each failure.

What each answer means is the table in docs/channels.md: 2xx sent; 408, 429, 5xx, a
timeout or a refused connection retried (429's Retry-After kept); other 4xx failed with
the status and the start of the body. Every request is signed and carries its key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from odd_servers import gzipping, trickling, url_of
from webhook_support import STALL, Receiver, serve

from touchflow.channels import Delivery, Envelope, Outcome
from touchflow.channels.webhook import WebhookChannel, retry_after, signature
from touchflow.config.delivery import ChannelConfigError
from touchflow.config.webhook import WebhookSettings

SECRET = "whsec-test-0123456789"
ENV = {"TOUCHFLOW_WEBHOOK_SECRET": SECRET}
BODY = json.dumps({"version": 1, "key": "ack:c1:q-1:0"}).encode()


def envelope(key: str = "ack:c1:q-1:0", body: bytes = BODY) -> Envelope:
    return Envelope(key=key, sender="", recipient="", data=body, message_id=key, channel="webhook")


@asynccontextmanager
async def channel(url: str, *, timeout: float = 2.0) -> AsyncIterator[WebhookChannel]:
    settings = WebhookSettings(url=url, secret_env="TOUCHFLOW_WEBHOOK_SECRET", timeout=timeout)
    opened = WebhookChannel(settings, environ=ENV)
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def url(receiver: Receiver) -> Iterator[str]:
    with serve(receiver) as found:
        yield found


async def post(url: str, *, timeout: float = 2.0) -> Delivery:
    async with channel(url, timeout=timeout) as webhook:
        return await webhook.send(envelope())


async def test_a_2xx_is_sent_and_the_request_is_signed_and_keyed(
    receiver: Receiver, url: str
) -> None:
    receiver.answers = [204]
    delivery = await post(url)
    assert (delivery.outcome, delivery.code) == (Outcome.SENT, 204)
    assert delivery.detail == f"{url} answered 204"
    (got,) = receiver.received
    assert got.body == BODY
    assert got.headers["content-type"] == "application/json"
    assert got.headers["idempotency-key"] == "ack:c1:q-1:0"
    stamp, v1 = (part.split("=", 1)[1] for part in got.headers["touchflow-signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + BODY, hashlib.sha256)
    assert hmac.compare_digest(v1, expected.hexdigest())


async def test_429_is_retried_no_sooner_than_its_retry_after(receiver: Receiver, url: str) -> None:
    receiver.answers = [(429, {"Retry-After": "120"}, b"slow down")]
    delivery = await post(url)
    assert (delivery.outcome, delivery.code, delivery.retry_after) == (Outcome.RETRY, 429, 120.0)
    assert delivery.detail == f"{url} answered 429: slow down"


@pytest.mark.parametrize("status", [408, 500, 502, 503])
async def test_408_and_5xx_are_retried_with_the_status_and_body_as_the_reason(
    receiver: Receiver, url: str, status: int
) -> None:
    receiver.answers = [(status, {}, b"<h1>Oops</h1>\n  try   later")]
    delivery = await post(url)
    assert (delivery.outcome, delivery.code, delivery.alert) == (Outcome.RETRY, status, False)
    assert delivery.detail == f"{url} answered {status}: <h1>Oops</h1> try later"


@pytest.mark.parametrize(
    ("status", "alert"), [(400, False), (422, False), (401, True), (404, True)]
)
async def test_other_4xx_fail_for_good_with_the_status_and_a_trimmed_body(
    receiver: Receiver, url: str, status: int, alert: bool
) -> None:
    receiver.answers = [(status, {}, b"no such customer \x00" + b"x" * 5000)]
    delivery = await post(url)
    assert (delivery.outcome, delivery.code, delivery.alert) == (Outcome.FAILED, status, alert)
    assert delivery.detail.startswith(f"{url} answered {status}: no such customer xxx")
    assert len(delivery.detail) < len(url) + 250  # trimmed, on one line
    assert "\x00" not in delivery.detail


async def test_a_redirect_is_not_followed_and_fails_saying_so(receiver: Receiver, url: str) -> None:
    receiver.answers = [(301, {"Location": "https://elsewhere.example/"}, b"")]
    delivery = await post(url)
    assert (delivery.outcome, delivery.alert) == (Outcome.FAILED, True)
    assert "redirects are not followed" in delivery.detail
    assert len(receiver.received) == 1


async def test_a_receiver_that_never_answers_is_retried_after_the_timeout(
    receiver: Receiver, url: str
) -> None:
    receiver.answers = [STALL]
    delivery = await post(url, timeout=0.3)
    assert delivery.outcome is Outcome.RETRY
    assert delivery.detail == f"{url}: no answer within 0.3 s"


async def test_a_refused_connection_is_retried_and_alerts() -> None:
    with serve(Receiver()) as url:
        pass  # closed again: nothing listens on the port now
    delivery = await post(url)
    assert (delivery.outcome, delivery.alert) == (Outcome.RETRY, True)
    assert delivery.detail.startswith(f"{url}: cannot connect")


async def test_nothing_is_posted_before_the_last_outcome_is_recorded(
    receiver: Receiver, url: str
) -> None:
    recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    async with channel(url) as webhook:
        sending = asyncio.create_task(webhook.send(envelope(), after=recorded))
        await asyncio.sleep(0.2)
        assert receiver.received == []
        recorded.set_result(None)
        assert (await sending).outcome is Outcome.SENT
    assert len(receiver.received) == 1


async def test_the_query_of_the_url_is_kept_out_of_names_and_details(receiver: Receiver) -> None:
    with serve(receiver) as url:
        receiver.answers = [500]
        async with channel(url + "?token=s3cret") as webhook:
            assert webhook.name == f"webhook {url}"
            delivery = await webhook.send(envelope())
    assert "s3cret" not in delivery.detail
    assert receiver.received[0].path == "/hook?token=s3cret"


def test_a_missing_secret_is_a_config_error_naming_the_variable() -> None:
    settings = WebhookSettings(url="https://hooks.example.com/t", secret_env="NOT_SET_HERE")
    with pytest.raises(ChannelConfigError, match="NOT_SET_HERE, which is not set"):
        WebhookChannel(settings, environ={})


def test_the_signature_is_hmac_sha256_of_the_timestamp_a_dot_and_the_body() -> None:
    mac = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert signature(b"k", 1700000000, b"{}") == f"t=1700000000,v1={mac}"


def test_retry_after_reads_seconds_or_an_http_date_and_caps_at_a_day() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert retry_after("30", now=now) == 30.0
    assert retry_after("Sun, 06 Dec 2026 12:02:00 GMT", now=now) == 120.0
    assert retry_after("999999", now=now) == 86_400.0
    assert retry_after("soon", now=now) is None
    assert retry_after(None, now=now) is None


async def test_an_answer_trickled_a_byte_at_a_time_is_cut_off_at_the_timeout() -> None:
    with trickling() as server:
        url = url_of(server)
        delivery = await asyncio.wait_for(post(url, timeout=0.5), 10)
    assert (delivery.outcome, delivery.detail) == (Outcome.RETRY, f"{url}: no answer within 0.5 s")


async def test_the_answer_is_asked_for_uncompressed_and_shown_as_it_comes() -> None:
    with gzipping(422, b"the field 'key' is missing") as server:
        url = url_of(server)
        delivery = await post(url)
    assert server.state.asked == ["identity"]
    assert delivery.outcome is Outcome.FAILED
    assert delivery.detail == f"{url} answered 422: the field 'key' is missing"
