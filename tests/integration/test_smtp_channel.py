"""SmtpChannel against a real aiosmtpd server that answers as each test needs.

Every server answer the channel can get maps to one Delivery outcome; these
tests pin that table (docs/operations.md, "How delivery failures are
classified") on a live SMTP dialogue, not on mocks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import AuthResult
from smtp_support import (
    PASSWORD,
    STALL,
    Handler,
    Script,
    envelope,
    free_port,
    serve,
    serve_script,
    settings,
)

from touchflow.channels import Delivery, Envelope, Outcome
from touchflow.channels.smtp import SmtpChannel
from touchflow.config.delivery import ChannelConfigError, TlsMode

ENVIRON = {"TF_TEST_USER": "mailer", "TF_TEST_PASSWORD": PASSWORD}
pytestmark = pytest.mark.usefixtures("smtp_pipelining")  # each test, both ways


@asynccontextmanager
async def channel_to(
    handler: Handler,
    *,
    server: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    **options: Any,
) -> AsyncIterator[SmtpChannel]:
    """A channel to a fresh server; closed (QUIT) before the server stops.

    In that order on purpose: a server stopped under an open TLS session
    cannot finish closing it and leaks its socket (a ResourceWarning).
    """
    with serve(handler, **(server or {})) as port:
        channel = SmtpChannel(settings(port, **options), environ=environ or {})
        try:
            yield channel
        finally:
            await channel.aclose()


async def send_all(channel: SmtpChannel, *envelopes: Envelope) -> list[Delivery]:
    return list(await asyncio.gather(*(channel.send(e) for e in envelopes)))


# --- success and connection reuse ---------------------------------------------------


async def test_sent_messages_arrive_byte_for_byte_over_one_reused_connection() -> None:
    handler = Handler()
    async with channel_to(handler, connections=1) as channel:
        deliveries = await send_all(channel, envelope(1), envelope(2), envelope(3))

    assert [d.outcome for d in deliveries] == [Outcome.SENT] * 3
    assert all(d.code == 250 and "queued as 42" in d.detail for d in deliveries)
    assert len(handler.peers) == 1, "three sends should share one connection"
    assert handler.quits == 1
    sent = {e.message_id: e for e in (envelope(1), envelope(2), envelope(3))}
    for sender, recipients, content in handler.received:
        message = email.message_from_bytes(content)
        original = sent.pop(message["Message-ID"])
        assert content == original.data  # dot-stuffing undone, nothing added or lost
        assert (sender, recipients) == (original.sender, [original.recipient])
    assert sent == {}


async def test_8bit_content_is_announced_with_its_size() -> None:
    handler = Handler()
    ascii_only = envelope(1)
    utf8 = dataclasses.replace(
        ascii_only, data=ascii_only.data.replace(b"See", "Bis morgen, Jürgen".encode())
    )
    async with channel_to(handler) as channel:
        deliveries = await send_all(channel, ascii_only)
        deliveries += await send_all(channel, utf8)

    assert [d.outcome for d in deliveries] == [Outcome.SENT] * 2
    assert handler.mail_options == [
        [f"SIZE={len(ascii_only.data)}"],  # the size before dot-stuffing (RFC 1870)
        [f"SIZE={len(utf8.data)}", "BODY=8BITMIME"],
    ]
    assert handler.received[1][2] == utf8.data


async def test_channel_names_itself_and_allows_one_send_per_connection() -> None:
    channel = SmtpChannel(settings(2525, connections=3), environ={})
    assert channel.name == "smtp 127.0.0.1:2525"
    assert channel.concurrency == 3
    await channel.aclose()
    await channel.aclose()  # idempotent


# --- classification: one case per kind of answer ---------------------------------


@pytest.mark.parametrize(
    ("handler_options", "outcome", "code", "alert", "words"),
    [
        pytest.param(
            {"mail": ("421 4.3.2 shutting down",)},
            Outcome.RETRY,
            421,
            False,
            ["421 4.3.2 shutting down", "(at MAIL)", "closing the connection"],
            id="421-at-MAIL",
        ),
        pytest.param(
            {"rcpt": ("421 4.7.0 too many connections",)},
            Outcome.RETRY,
            421,
            False,
            ["421 4.7.0 too many connections", "(at RCPT)"],
            id="421-at-RCPT",
        ),
        pytest.param(
            {"rcpt": ("451 4.7.1 greylisted, try again later",)},
            Outcome.RETRY,
            451,
            False,
            ["451 4.7.1 greylisted", "(at RCPT)"],
            id="451-at-RCPT",
        ),
        pytest.param(
            {"data": ("452 4.3.1 insufficient system storage",)},
            Outcome.RETRY,
            452,
            False,
            ["452 4.3.1 insufficient system storage", "(after DATA)"],
            id="452-after-DATA",
        ),
        pytest.param(
            {"rcpt": ("550 5.1.1 no such user",)},
            Outcome.BAD_MAILBOX,
            550,
            False,
            ["550 5.1.1 no such user", "(at RCPT)"],
            id="550-5.1.1-at-RCPT",
        ),
        pytest.param(
            {"data": ("554 5.7.1 message refused as spam",)},
            Outcome.FAILED,
            554,
            True,
            ["554 5.7.1 message refused as spam", "(after DATA)"],
            id="554-5.7.1-after-DATA",
        ),
        pytest.param(
            {"mail": ("553 5.1.8 sender domain does not exist",)},
            Outcome.FAILED,
            553,
            True,
            ["5.1.8", "(at MAIL)"],
            id="5.1.8-is-about-the-sender-not-the-mailbox",
        ),
        pytest.param(
            {"rcpt": ("550 mailbox unavailable",)},
            Outcome.FAILED,
            550,
            True,
            ["550 mailbox unavailable", "(at RCPT)"],
            id="5xx-without-enhanced-code",
        ),
    ],
)
async def test_server_answers_are_classified(
    handler_options: dict[str, Any], outcome: Outcome, code: int, alert: bool, words: list[str]
) -> None:
    handler = Handler(**handler_options)
    async with channel_to(handler) as channel:
        delivery = await channel.send(envelope())

    assert (delivery.outcome, delivery.code, delivery.alert) == (outcome, code, alert)
    assert delivery.detail.startswith("127.0.0.1:")
    for word in words:
        assert word in delivery.detail
    assert handler.received == []


async def test_421_drops_the_connection_and_the_next_send_opens_a_new_one() -> None:
    handler = Handler(mail=("421 4.3.2 shutting down", "250 2.1.0 Ok"))
    async with channel_to(handler) as channel:
        first = await channel.send(envelope(1))
        second = await channel.send(envelope(2))

    assert (first.outcome, second.outcome) == (Outcome.RETRY, Outcome.SENT)
    assert len(handler.peers) == 2


async def test_a_refused_recipient_keeps_the_connection_for_the_next_send() -> None:
    handler = Handler(rcpt=("550 5.1.1 no such user", "250 2.1.5 Ok"))
    async with channel_to(handler) as channel:
        first = await channel.send(envelope(1, recipient="nobody@example.org"))
        second = await channel.send(envelope(2))

    assert (first.outcome, second.outcome) == (Outcome.BAD_MAILBOX, Outcome.SENT)
    assert len(handler.peers) == 1, "RSET, not a new connection, after a refused recipient"


async def test_a_connection_the_server_closed_while_idle_is_replaced_quietly() -> None:
    handler = Handler()
    async with channel_to(handler, server={"timeout": 0.2}) as channel:
        first = await channel.send(envelope(1))
        await asyncio.sleep(0.6)  # the server drops the idle session after 0.2 s
        second = await channel.send(envelope(2))

    assert (first.outcome, second.outcome) == (Outcome.SENT, Outcome.SENT)
    assert len(handler.peers) == 2


async def test_a_connection_dropped_after_data_is_retried_with_a_duplicate_warning() -> None:
    async with channel_to(Handler(drop_after_data=True)) as channel:
        delivery = await channel.send(envelope())

    assert (delivery.outcome, delivery.alert, delivery.code) == (Outcome.RETRY, False, None)
    assert "closed the connection (after DATA)" in delivery.detail
    assert "may have accepted the message" in delivery.detail


@pytest.mark.parametrize(("command", "stage"), [("RCPT", "at RCPT"), ("DATA", "after DATA")])
async def test_a_server_that_stalls_past_the_timeout_means_retry(command: str, stage: str) -> None:
    async with channel_to(Handler(stall=command)) as channel:
        started = time.monotonic()
        delivery = await channel.send(envelope())
        elapsed = time.monotonic() - started

    assert delivery.outcome is Outcome.RETRY
    assert f"within 0.5 s ({stage})" in delivery.detail
    assert elapsed < STALL, "the channel must give up at its timeout, not wait for the server"


@pytest.mark.parametrize(
    "recipient",
    [
        pytest.param("ana@example.org>\r\nRCPT TO:<eve@example.net", id="line-break"),
        pytest.param("Ana <ana@example.org>", id="display-name"),
        pytest.param("ana@example.org, eve@example.net", id="two-addresses"),
        pytest.param("anä@example.org", id="non-ascii"),
    ],
)
async def test_only_one_bare_address_is_ever_put_on_the_wire(recipient: str) -> None:
    # The library would quietly send to whatever parseaddr() makes of these.
    handler = Handler()
    async with channel_to(handler) as channel:
        delivery = await channel.send(envelope(recipient=recipient))

    assert (delivery.outcome, delivery.alert) == (Outcome.FAILED, True)
    assert delivery.detail == (
        f"the recipient {recipient!r} is not one bare ASCII address; nothing was sent"
    )
    assert handler.peers == [] and handler.received == []


async def test_nothing_listening_means_retry() -> None:
    channel = SmtpChannel(settings(free_port()), environ={})
    delivery = await channel.send(envelope())
    await channel.aclose()

    assert delivery.outcome is Outcome.RETRY
    assert delivery.detail.startswith("cannot reach 127.0.0.1:")


@pytest.mark.parametrize(
    ("greeting", "outcome", "alert"),
    [
        pytest.param(b"421 4.3.2 try later\r\n", Outcome.RETRY, False, id="421-greeting"),
        pytest.param(b"554 5.7.1 no service for you\r\n", Outcome.RETRY, True, id="554-greeting"),
    ],
)
async def test_a_refusing_greeting_is_never_a_permanent_failure(
    greeting: bytes, outcome: Outcome, alert: bool
) -> None:
    # aiosmtpd always greets with 220: a bare socket server says what we need.
    async with serve_script(Script(greeting=greeting)) as port:
        channel = SmtpChannel(settings(port), environ={})
        delivery = await channel.send(envelope())
        await channel.aclose()

    assert (delivery.outcome, delivery.alert) == (outcome, alert)
    assert "(at connect)" in delivery.detail
    assert greeting.decode().strip() in delivery.detail


# --- TLS ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


async def test_required_starttls_not_offered_sends_nothing() -> None:
    handler = Handler()
    async with channel_to(handler, tls=TlsMode.STARTTLS) as channel:
        delivery = await channel.send(envelope())

    assert (delivery.outcome, delivery.alert) == (Outcome.RETRY, True)
    address = channel.name.removeprefix("smtp ")
    assert delivery.detail == (
        f"{address} does not offer STARTTLS; delivery.smtp.tls is starttls, so nothing was sent"
    )
    assert handler.peers == [] and handler.received == []  # not even MAIL FROM


async def test_starttls_with_a_trusted_certificate_delivers(ca: trustme.CA, ca_file: Path) -> None:
    handler = Handler()
    server = {"tls_context": server_tls(ca), "require_starttls": True}
    async with channel_to(handler, server=server, tls=TlsMode.STARTTLS, ca_file=ca_file) as channel:
        delivery = await channel.send(envelope())

    assert delivery.outcome is Outcome.SENT
    assert len(handler.received) == 1


async def test_starttls_with_an_untrusted_certificate_sends_nothing(ca_file: Path) -> None:
    handler = Handler()
    stranger = trustme.CA()  # the server's certificate comes from a CA the client does not know
    server = {"tls_context": server_tls(stranger)}
    async with channel_to(handler, server=server, tls=TlsMode.STARTTLS, ca_file=ca_file) as channel:
        delivery = await channel.send(envelope())

    assert (delivery.outcome, delivery.alert) == (Outcome.RETRY, True)
    assert "certificate could not be verified" in delivery.detail
    assert "(at STARTTLS)" in delivery.detail
    assert handler.peers == [] and handler.received == []


async def test_implicit_tls_delivers(ca: trustme.CA, ca_file: Path) -> None:
    handler = Handler()
    server = {"ssl_context": server_tls(ca)}
    async with channel_to(handler, server=server, tls=TlsMode.IMPLICIT, ca_file=ca_file) as channel:
        delivery = await channel.send(envelope())

    assert delivery.outcome is Outcome.SENT
    assert len(handler.received) == 1


# --- AUTH and secrets ----------------------------------------------------------------

LOGIN = {
    "tls": TlsMode.STARTTLS,
    "username_env": "TF_TEST_USER",
    "password_env": "TF_TEST_PASSWORD",
}


def auth_server(ca: trustme.CA, authenticator: Any) -> dict[str, Any]:
    return {"tls_context": server_tls(ca), "auth_required": True, "authenticator": authenticator}


async def test_auth_uses_the_credentials_from_the_environment(
    ca: trustme.CA, ca_file: Path
) -> None:
    handler = Handler()
    server = auth_server(ca, handler.authenticate)
    async with channel_to(
        handler, server=server, environ=ENVIRON, ca_file=ca_file, **LOGIN
    ) as channel:
        delivery = await channel.send(envelope())

    assert delivery.outcome is Outcome.SENT
    assert handler.logins == [b"mailer"]


async def test_refused_login_is_a_retry_with_an_alert_and_no_password(
    ca: trustme.CA, ca_file: Path
) -> None:
    handler = Handler()
    server = auth_server(ca, handler.authenticate)
    wrong = {**ENVIRON, "TF_TEST_PASSWORD": PASSWORD + "-old"}
    async with channel_to(
        handler, server=server, environ=wrong, ca_file=ca_file, **LOGIN
    ) as channel:
        delivery = await channel.send(envelope())

    assert (delivery.outcome, delivery.code, delivery.alert) == (Outcome.RETRY, 535, True)
    assert "(at AUTH)" in delivery.detail and "login was refused" in delivery.detail
    assert PASSWORD not in delivery.detail
    assert handler.received == []


async def test_a_server_echoing_the_password_does_not_put_it_in_the_detail(
    ca: trustme.CA, ca_file: Path
) -> None:
    def echo(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad: {PASSWORD}")

    server = auth_server(ca, echo)
    async with channel_to(
        Handler(), server=server, environ=ENVIRON, ca_file=ca_file, **LOGIN
    ) as channel:
        delivery = await channel.send(envelope())

    assert delivery.outcome is Outcome.RETRY
    assert PASSWORD not in delivery.detail
    assert "535 5.7.8 bad: [password]" in delivery.detail


async def test_a_server_without_auth_is_a_retry_with_an_alert() -> None:
    # Plain text: aiosmtpd offers AUTH only over TLS, so the login cannot happen.
    login = {**LOGIN, "tls": TlsMode.NONE}
    async with channel_to(Handler(), environ=ENVIRON, **login) as channel:
        delivery = await channel.send(envelope())

    assert (delivery.outcome, delivery.alert) == (Outcome.RETRY, True)
    assert delivery.detail.startswith(f"cannot log in to {channel.name.removeprefix('smtp ')}: ")
    assert "AUTH extension is not supported" in delivery.detail


@pytest.mark.parametrize(
    ("environ", "variable", "state"),
    [
        ({"TF_TEST_PASSWORD": PASSWORD}, "TF_TEST_USER", "not set"),
        ({"TF_TEST_USER": "mailer"}, "TF_TEST_PASSWORD", "not set"),
        ({"TF_TEST_USER": "mailer", "TF_TEST_PASSWORD": ""}, "TF_TEST_PASSWORD", "empty"),
    ],
)
def test_a_missing_credential_variable_is_named_without_any_value(
    ca_file: Path, environ: dict[str, str], variable: str, state: str
) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        SmtpChannel(settings(2525, ca_file=ca_file, **LOGIN), environ=environ)

    text = str(caught.value)
    assert f"names the environment variable {variable}, which is {state}" in text
    assert PASSWORD not in text and "mailer" not in text
    assert caught.value.exit_code == 2


def test_an_unreadable_ca_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ChannelConfigError, match=r"delivery\.smtp\.ca_file: cannot load CA"):
        SmtpChannel(settings(2525, tls=TlsMode.STARTTLS, ca_file=bad), environ={})


# --- rate limit ----------------------------------------------------------------------


async def test_the_rate_limit_spaces_sends_over_all_connections() -> None:
    handler = Handler()
    rate, count = 20.0, 6
    async with channel_to(handler, connections=3, rate=rate) as channel:
        started = time.monotonic()
        deliveries = await send_all(channel, *(envelope(n) for n in range(count)))
        elapsed = time.monotonic() - started

    assert [d.outcome for d in deliveries] == [Outcome.SENT] * count
    # Loose on purpose: a busy machine can only make it slower, never faster.
    assert elapsed >= (count - 1) / rate * 0.8
    assert len(handler.received) == count
