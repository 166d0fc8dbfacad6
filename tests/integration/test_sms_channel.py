"""The SMS channel against a fake of Twilio's Messages API on 127.0.0.1, and the folder
provider: each answer, each failure, what is sent and how.

What each answer means is the table in docs/channels.md: 201 sent (Twilio's SID kept);
429 (its Retry-After kept), 5xx, a timeout or a refused connection retried; 400 with
code 21610 failed and the number suppressed; 401/403/404 retried with an alert; other 4xx
failed with Twilio's code and message. A credential never appears in a detail.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sms_support
from odd_servers import gzipping, trickling, url_of
from sms_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    ENV,
    INVALID_NUMBER,
    NOT_MOBILE,
    RATE_LIMITED,
    SERVER_ERROR,
    STALL,
    UNAUTHORIZED,
    UNSUBSCRIBED,
    FakeTwilio,
    messages_path,
    serve,
)
from support import load_config

from touchflow.channels import Delivery, Envelope, Outcome
from touchflow.channels.factory import open_channel, open_sms_channel
from touchflow.channels.sms import SmsChannel
from touchflow.channels.sms_folder import FolderProvider, file_name_for
from touchflow.channels.sms_twilio import TwilioProvider
from touchflow.config.delivery import ChannelConfigError
from touchflow.config.sms import SmsProviderKind, SmsSettings, TwilioSettings

NUMBER = "+4915112345678"
TEXT = "Hi Ana, see you tomorrow at 10:30. Grüße, Lumen"


def envelope(to: str = NUMBER, text: str = TEXT, key: str = "reminder:c1:a-1") -> Envelope:
    return Envelope(
        key=key, sender="", recipient=to, data=text.encode(), message_id=key, channel="sms"
    )


@asynccontextmanager
async def twilio(api_url: str, **settings: object) -> AsyncIterator[SmsChannel]:
    kw: dict[str, object] = {"sender": "+15017122661", "api_url": api_url, "timeout": 2.0}
    opened = SmsChannel(TwilioProvider(TwilioSettings(**{**kw, **settings}), environ=ENV))  # type: ignore[arg-type]
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
def fake() -> FakeTwilio:
    return FakeTwilio()


@pytest.fixture
def api(fake: FakeTwilio) -> Iterator[str]:
    with serve(fake) as found:
        yield found


async def send(api_url: str, message: Envelope | None = None, **settings: object) -> Delivery:
    async with twilio(api_url, **settings) as channel:
        return await channel.send(message or envelope())


async def test_a_text_is_posted_as_twilio_s_form_with_basic_auth(
    fake: FakeTwilio, api: str
) -> None:
    got = await send(api)
    assert got.outcome is Outcome.SENT
    assert got.detail == f"Twilio accepted it as SM{1:032x} (201)"
    (request,) = fake.requests
    assert request.path == messages_path()
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.form == {"To": NUMBER, "Body": TEXT, "From": "+15017122661"}


async def test_a_messaging_service_is_named_instead_of_a_number(fake: FakeTwilio, api: str) -> None:
    service = "MG" + "0" * 32
    got = await send(api, sender=None, messaging_service_sid=service)
    assert got.outcome is Outcome.SENT
    assert fake.requests[0].form == {"To": NUMBER, "Body": TEXT, "MessagingServiceSid": service}


@pytest.mark.parametrize(
    ("answer", "outcome", "detail", "alert"),
    [
        (RATE_LIMITED, Outcome.RETRY, "Twilio 20429 (HTTP 429): Too Many Requests", False),
        (SERVER_ERROR, Outcome.RETRY, "Twilio 20500 (HTTP 500): Internal Server Error", False),
        (
            UNSUBSCRIBED,
            Outcome.BAD_MAILBOX,
            "Twilio 21610 (HTTP 400): Attempt to send to unsubscribed recipient",
            False,
        ),
        (
            INVALID_NUMBER,
            Outcome.FAILED,
            "Twilio 21211 (HTTP 400): The 'To' number +1555 is not a valid phone number.",
            False,
        ),
        (
            NOT_MOBILE,
            Outcome.FAILED,
            "Twilio 21614 (HTTP 400): 'To' number is not a valid mobile number",
            False,
        ),
        (UNAUTHORIZED, Outcome.RETRY, "Twilio 20003 (HTTP 401): Authenticate (check", True),
    ],
    ids=["429", "500", "21610", "21211", "21614", "401"],
)
async def test_each_answer_of_twilio(
    fake: FakeTwilio,
    api: str,
    answer: sms_support.Answer,
    outcome: Outcome,
    detail: str,
    alert: bool,
) -> None:
    fake.answers = [answer]
    got = await send(api)
    assert (got.outcome, got.alert) == (outcome, alert)
    assert got.detail.startswith(detail)
    assert AUTH_TOKEN not in got.detail and ACCOUNT_SID not in got.detail
    if answer is RATE_LIMITED:
        assert got.retry_after == 1.0


async def test_no_answer_within_the_timeout_is_retried(fake: FakeTwilio, api: str) -> None:
    fake.answers = [STALL]
    got = await send(api, timeout=0.3)
    assert (got.outcome, got.detail) == (Outcome.RETRY, "Twilio: no answer within 0.3 s")


async def test_a_connection_dropped_unanswered_is_retried_with_an_alert(
    fake: FakeTwilio, api: str
) -> None:
    fake.answers = [sms_support.DROP]
    got = await send(api)
    assert (got.outcome, got.alert) == (Outcome.RETRY, True)
    assert got.detail.startswith("Twilio: connection failed (")
    assert len(fake.requests) == 1  # Twilio may have taken it: the retry may duplicate it


async def test_a_refused_connection_is_retried_with_an_alert() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got = await send(f"http://127.0.0.1:{port}")
    assert (got.outcome, got.alert) == (Outcome.RETRY, True)
    assert got.detail.startswith("Twilio: cannot connect")


async def test_the_account_sid_quoted_back_by_twilio_is_hidden(fake: FakeTwilio, api: str) -> None:
    message = (
        f"The requested resource /2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json was not found"
    )
    fake.answers = [sms_support._error(404, 20404, message)]
    got = await send(api)
    assert ACCOUNT_SID not in got.detail and "/Accounts/AC…/Messages.json" in got.detail


@pytest.mark.parametrize("to", ["015112345678", "+49 151 1234", "ana@example.com", ""])
async def test_a_number_not_in_e164_form_fails_without_asking_twilio(
    fake: FakeTwilio, api: str, to: str
) -> None:
    got = await send(api, envelope(to=to))
    assert got.outcome is Outcome.FAILED and "E.164" in got.detail
    assert fake.requests == []


async def test_texts_in_flight_are_bounded_by_connections(fake: FakeTwilio, api: str) -> None:
    fake.answers = ["hold"]
    async with twilio(api, connections=2) as channel:
        sends = [asyncio.create_task(channel.send(envelope(key=f"k{i}"))) for i in range(5)]
        while len(fake.requests) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # had a third been let through, it would have arrived
        assert len(fake.requests) == 2
        fake.release()
        results = await asyncio.gather(*sends)
    assert [r.outcome for r in results] == [Outcome.SENT] * 5


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"])
def test_a_missing_credential_variable_is_named_never_a_value(missing: str) -> None:
    environ = {k: v for k, v in ENV.items() if k != missing}
    settings = SmsSettings(provider=SmsProviderKind.TWILIO, twilio=TwilioSettings(sender="+1555"))
    with pytest.raises(ChannelConfigError, match=f"names {missing}, which is not set") as caught:
        open_sms_channel(settings, root=Path("."), environ=environ)
    assert AUTH_TOKEN not in str(caught.value) and ACCOUNT_SID not in str(caught.value)


async def test_the_folder_provider_writes_each_text_as_a_readable_file(tmp_path: Path) -> None:
    settings = SmsSettings(provider=SmsProviderKind.FOLDER, folder=Path("texts"))
    channel = open_sms_channel(settings, root=tmp_path, environ={})
    first = await channel.send(envelope())
    again = await channel.send(envelope(text="Changed"))  # the same key: the same file
    other = await channel.send(envelope(key="reminder:c2:a-2", to="+15017122661"))
    await channel.aclose()
    assert [d.outcome for d in (first, again, other)] == [Outcome.SENT] * 3
    folder = tmp_path / "texts"
    path = folder / file_name_for("reminder:c1:a-1")
    assert first.detail == f"written to {path}"
    assert path.read_text("utf-8") == f"To: {NUMBER}\nKey: reminder:c1:a-1\n\nChanged\n"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["tmp", path.name, file_name_for("reminder:c2:a-2")]
    )
    assert list((folder / "tmp").iterdir()) == []
    assert path.stat().st_mode & 0o777 == 0o600


async def test_a_folder_that_cannot_be_written_is_retried_with_an_alert(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")
    channel = SmsChannel(FolderProvider(blocked / "texts"))
    got = await channel.send(envelope())
    assert (got.outcome, got.alert) == (Outcome.RETRY, True)
    assert got.detail.startswith(f"could not write into {blocked / 'texts'}")


async def test_the_project_s_channel_routes_texts_to_the_sms_provider(tmp_path: Path) -> None:
    config = load_config(tmp_path, "delivery:\n  sms:\n    provider: folder\n")
    channel = open_channel(config.delivery, root=tmp_path, environ={})
    try:
        assert "sms folder" in channel.name and channel.concurrency == 4 + 4
        got = await channel.send(envelope())
    finally:
        await channel.aclose()
    assert got.outcome is Outcome.SENT
    assert (tmp_path / ".touchflow" / "sms" / file_name_for("reminder:c1:a-1")).is_file()
    assert not (tmp_path / ".touchflow" / "maildir").exists()


async def test_a_text_longer_than_twilio_takes_fails_without_asking(
    fake: FakeTwilio, api: str
) -> None:
    got = await send(api, envelope(text="a" * 1601))
    assert (got.outcome, got.detail) == (
        Outcome.FAILED,
        "the text is 1601 characters; Twilio takes at most 1600",
    )
    assert fake.requests == []
    assert (await send(api, envelope(text="a" * 1600))).outcome is Outcome.SENT


async def test_an_answer_trickled_a_byte_at_a_time_is_cut_off_at_the_timeout() -> None:
    with trickling() as server:
        got = await asyncio.wait_for(send(url_of(server), timeout=0.5), 10)
    assert (got.outcome, got.detail) == (Outcome.RETRY, "Twilio: no answer within 0.5 s")


async def test_the_answer_is_asked_for_uncompressed_and_read_as_it_comes() -> None:
    body = b'{"code": 21610, "message": "Attempt to send to unsubscribed recipient"}'
    with gzipping(400, body) as server:
        got = await send(url_of(server))
    assert server.state.asked == ["identity"]
    assert got.outcome is Outcome.BAD_MAILBOX
    assert got.detail == "Twilio 21610 (HTTP 400): Attempt to send to unsubscribed recipient"


async def test_a_number_twilio_quotes_is_masked_in_the_detail(fake: FakeTwilio, api: str) -> None:
    fake.answers = [(400, {"Content-Type": "application/json"}, json.dumps({
        "code": 21211, "status": 400,
        "message": f"The 'To' number {NUMBER} is not a valid phone number.",
    }).encode())]  # fmt: skip
    got = await send(api)
    assert got.outcome is Outcome.FAILED
    assert NUMBER not in got.detail
    assert (
        got.detail
        == "Twilio 21211 (HTTP 400): The 'To' number +49•••78 is not a valid phone number."
    )


async def test_twilio_s_whole_answer_is_read_even_for_the_longest_text(
    fake: FakeTwilio, api: str
) -> None:
    text = "😀" * 800  # 1600 UTF-16 units: Twilio quotes it back JSON-escaped, 12 bytes each
    sid = "SM" + "c" * 32
    quoted = json.dumps({"sid": sid, "status": "queued", "body": text, "to": NUMBER}).encode()
    assert len(quoted) > 8192
    fake.answers = [(201, {"Content-Type": "application/json"}, quoted)]
    got = await send(api, envelope(text=text))
    assert (got.outcome, got.detail) == (Outcome.SENT, f"Twilio accepted it as {sid} (201)")
