"""Each answer of Twilio's Messages API → what happens to the touchpoint (no sockets)."""

from __future__ import annotations

import json

import pytest

from touchflow.channels import Outcome
from touchflow.channels.sms_twilio import answer


def error(status: int, code: int, message: str) -> bytes:
    doc = {"code": code, "message": message, "more_info": "https://x", "status": status}
    return json.dumps(doc).encode()


def test_201_is_sent_keeping_twilio_s_message_sid() -> None:
    body = json.dumps({"sid": "SM" + "a" * 32, "status": "queued"}).encode()
    got = answer(201, {}, body)
    assert (got.outcome, got.code) == (Outcome.SENT, 201)
    assert got.detail == f"Twilio accepted it as SM{'a' * 32} (201)"


def test_an_mms_sid_is_sent_too() -> None:
    body = json.dumps({"sid": "MM" + "b" * 32, "status": "queued"}).encode()
    assert answer(200, {}, body).outcome is Outcome.SENT


@pytest.mark.parametrize(
    "body",
    [
        b"<html>Welcome to nginx</html>",
        b"",
        b'{"status": "ok"}',
        b'{"sid": "AC0123"}',
        b'{"sid": 12}',
        b'["SM0123"]',
    ],
    ids=["html", "empty", "no-sid", "account-sid", "number", "list"],
)
def test_a_2xx_that_is_not_twilio_s_is_retried_with_an_alert(body: bytes) -> None:
    got = answer(200, {}, body)
    assert (got.outcome, got.alert, got.code) == (Outcome.RETRY, True, 200)
    assert got.detail.startswith("Twilio answered 200")
    assert got.detail.endswith("(the answer is not Twilio's: check api_url)")


def test_429_is_retried_not_sooner_than_retry_after() -> None:
    got = answer(429, {"retry-after": "30"}, error(429, 20429, "Too Many Requests"))
    assert (got.outcome, got.retry_after, got.code) == (Outcome.RETRY, 30.0, 429)
    assert got.detail == "Twilio 20429 (HTTP 429): Too Many Requests"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried(status: int) -> None:
    got = answer(status, {}, b"<html>upstream trouble</html>")
    assert got.outcome is Outcome.RETRY and not got.alert
    assert got.detail == f"Twilio answered {status}: <html>upstream trouble</html>"


def test_21610_fails_the_touchpoint_and_suppresses_the_number() -> None:
    body = error(400, 21610, "Attempt to send to unsubscribed recipient")
    got = answer(400, {}, body)
    assert got.outcome is Outcome.BAD_MAILBOX
    assert got.detail == "Twilio 21610 (HTTP 400): Attempt to send to unsubscribed recipient"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (21211, "The 'To' number +1555 is not a valid phone number."),
        (21614, "'To' number is not a valid mobile number"),
        (21408, "Permission to send an SMS has not been enabled for the region"),
    ],
)
def test_other_400s_fail_without_an_alert(code: int, message: str) -> None:
    got = answer(400, {}, error(400, code, message))
    assert (got.outcome, got.alert) == (Outcome.FAILED, False)
    assert got.detail == f"Twilio {code} (HTTP 400): {message}"


@pytest.mark.parametrize("status", [401, 403, 404])
def test_credentials_or_url_refused_are_retried_with_an_alert(status: int) -> None:
    got = answer(status, {}, error(status, 20003, "Authenticate"))
    assert (got.outcome, got.alert) == (Outcome.RETRY, True)
    assert got.detail.startswith(f"Twilio 20003 (HTTP {status}): Authenticate (check the account")


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_is_retried_with_an_alert(status: int) -> None:
    got = answer(status, {"location": "https://elsewhere"}, b"")
    assert (got.outcome, got.alert, got.code) == (Outcome.RETRY, True, status)
    assert "api_url" in got.detail


@pytest.mark.parametrize("code", [21606, 21212, 21659, 21660, 21608, 21701, 21705, 21799])
def test_a_sender_or_account_that_cannot_send_is_retried_with_an_alert(code: int) -> None:
    got = answer(400, {}, error(400, code, "The 'From' number is not yours"))
    assert (got.outcome, got.alert) == (Outcome.RETRY, True)
    assert got.detail.endswith(
        "(check delivery.sms.from or messaging_service_sid, and the Twilio account)"
    )


def test_a_full_queue_is_retried_without_an_alert() -> None:
    got = answer(400, {}, error(400, 21611, "This 'From' number has exceeded the queue"))
    assert (got.outcome, got.alert) == (Outcome.RETRY, False)


def test_a_long_or_odd_message_is_cut_to_one_line() -> None:
    got = answer(400, {}, error(400, 21000, "line one\nline two\x1b " + "x" * 400))
    assert "\n" not in got.detail and "\x1b" not in got.detail
    assert got.detail.endswith("…") and len(got.detail) < 240
