"""The mail transaction as touchflow runs it (touchflow.channels.smtp_session), against a
scripted server on 127.0.0.1 that shows what arrives together and answers as each case
needs: pipelining when offered, replies split or joined anyhow, servers that misbehave.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from smtp_support import EHLO_PLAIN, Script, envelope, serve_script, settings

from touchflow.channels import Outcome
from touchflow.channels.smtp import SmtpChannel


@asynccontextmanager
async def channel_to(script: Script) -> AsyncIterator[SmtpChannel]:
    async with serve_script(script) as port:
        channel = SmtpChannel(settings(port), environ={})
        try:
            yield channel
        finally:
            await channel.aclose()


def all_three_at_once(commands: list[bytes]) -> bytes | None:
    """Answers nothing until MAIL, RCPT and DATA are all there: only a pipelining
    client gets its message through; one sending a command at a time times out."""
    if len(commands) < 3:
        return None
    return b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n"


async def test_with_pipelining_offered_mail_rcpt_and_data_leave_together() -> None:
    script = Script(answer=all_three_at_once)
    async with channel_to(script) as channel:
        deliveries = [await channel.send(envelope(n)) for n in (1, 2)]
    assert [d.outcome for d in deliveries] == [Outcome.SENT, Outcome.SENT]
    assert [c[0].split(b":")[0] for c in script.reads] == [b"MAIL FROM", b"MAIL FROM"]
    assert [len(c) for c in script.reads] == [3, 3]
    assert script.connections == 1  # and the connection is reused
    assert b"\r\n..a line that starts with a dot\r\n" in script.messages[0]  # dot-stuffed


async def test_without_pipelining_offered_commands_go_one_at_a_time() -> None:
    def one_by_one(commands: list[bytes]) -> bytes:
        assert len(commands) == 1, "a command was sent before the last one was answered"
        return b"354 go ahead\r\n" if commands[0] == b"DATA" else b"250 ok\r\n"

    script = Script(answer=one_by_one, ehlo=EHLO_PLAIN)
    async with channel_to(script) as channel:
        delivery = await channel.send(envelope())
    assert delivery.outcome is Outcome.SENT
    assert [c[0].split(b" ")[0] for c in script.reads] == [b"MAIL", b"RCPT", b"DATA"]


async def test_replies_in_pieces_and_multi_line_replies_are_read_whole() -> None:
    def in_pieces(commands: list[bytes]) -> bytes | None:
        if len(commands) < 3:
            return None
        return b"250-sender\r\n250 2.1.0 ok\r\n25" + b"0 2.1.5 ok\r\n354 go ahead\r\n"

    script = Script(answer=in_pieces)
    async with channel_to(script) as channel:
        delivery = await channel.send(envelope())
    assert delivery.outcome is Outcome.SENT
    assert delivery.detail == "250 2.0.0 queued"


async def test_a_refused_sender_is_reported_at_mail_though_rcpt_and_data_were_sent_too() -> None:
    def refuse_sender(commands: list[bytes]) -> bytes | None:
        if len(commands) < 3:
            return None
        return b"550 5.7.1 sender rejected\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n"

    script = Script(answer=refuse_sender)
    async with channel_to(script) as channel:
        delivery = await channel.send(envelope())
    assert delivery.outcome is Outcome.FAILED
    assert delivery.detail.endswith("550 5.7.1 sender rejected (at MAIL)")
    assert script.messages == []


@pytest.mark.parametrize(
    ("data_reply", "connections"),
    [
        # RSET, then the next message on the same connection.
        pytest.param(b"554 5.5.1 no valid recipients", 1, id="data-refused-as-it-should"),
        # RFC 2920 says a server with no accepted recipient refuses DATA; this one does
        # not, and waits for a message: that connection is dropped, nothing is sent on it.
        pytest.param(b"354 go ahead", 2, id="354-all-the-same"),
    ],
)
async def test_a_refused_recipient_leaves_the_next_message_a_connection_in_step(
    data_reply: bytes, connections: int
) -> None:
    answers = iter(
        [
            b"250 2.1.0 ok\r\n550 5.1.1 no such user\r\n" + data_reply + b"\r\n",
            b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n",
        ]
    )
    script = Script(answer=lambda c: next(answers) if len(c) == 3 else None)
    async with channel_to(script) as channel:
        refused = await channel.send(envelope(1, "nobody@example.org"))
        sent = await channel.send(envelope(2))
    assert refused.outcome is Outcome.BAD_MAILBOX
    assert refused.detail.endswith("(at RCPT)")
    assert sent.outcome is Outcome.SENT
    assert script.connections == connections
    assert len(script.messages) == 1  # only the second message ever ended


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"Benutzer unbekannt \xe9", "Benutzer unbekannt \u00e9"),  # Latin-1, not UTF-8
        (b"no such\x00user", "no such\\x00user"),  # a NUL: no store's text holds one
    ],
    ids=["latin-1", "nul"],
)
async def test_a_reply_s_text_is_kept_as_text_any_store_can_hold(raw: bytes, shown: str) -> None:
    answer = b"250 2.1.0 ok\r\n550 5.1.1 " + raw + b"\r\n554 no valid recipients\r\n"
    script = Script(answer=lambda c: answer if len(c) == 3 else None)
    async with channel_to(script) as channel:
        refused = await channel.send(envelope(1, "nobody@example.org"))
    assert refused.outcome is Outcome.BAD_MAILBOX
    assert f"550 5.1.1 {shown} (at RCPT)" in refused.detail
    refused.detail.encode("utf-8")  # no lone surrogate
    assert "\x00" not in refused.detail


async def test_a_malformed_reply_is_a_retry_naming_it() -> None:
    script = Script(answer=lambda c: b"hello there\r\n" if len(c) == 3 else None)
    async with channel_to(script) as channel:
        delivery = await channel.send(envelope())
    assert delivery.outcome is Outcome.RETRY
    assert "Malformed SMTP response line: hello there" in delivery.detail
    assert delivery.alert


async def test_a_server_closing_after_a_421_to_mail_is_a_retry_for_that_421() -> None:
    script = Script(answer=lambda c: b"421 4.3.2 going down\r\n" if len(c) == 3 else None)
    async with channel_to(script) as channel:
        delivery = await channel.send(envelope())
    assert delivery.outcome is Outcome.RETRY
    assert delivery.code == 421
    assert "(at MAIL)" in delivery.detail


async def test_a_421_to_mail_on_a_reused_connection_sends_on_a_new_one_at_once() -> None:
    # A server limiting messages per connection answers the next MAIL with 421 and closes.
    mails = 0

    def second_mail_refused(commands: list[bytes]) -> bytes | None:
        nonlocal mails
        if len(commands) < 3:
            return None
        mails += 1
        if mails == 2:
            return b"421 4.7.0 too many messages on this connection\r\n"
        return b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n"

    script = Script(answer=second_mail_refused)
    async with channel_to(script) as channel:
        deliveries = [await channel.send(envelope(n)) for n in (1, 2)]
    assert [d.outcome for d in deliveries] == [Outcome.SENT, Outcome.SENT]
    assert script.connections == 2
    assert [b"Subject: Reminder 2" in m for m in script.messages] == [False, True]


async def arrived(script: Script, reads: int) -> None:
    """Until the server has answered ``reads`` groups of commands."""
    async with asyncio.timeout(5):
        while len(script.reads) < reads:
            await asyncio.sleep(0.01)


async def test_the_next_message_s_commands_leave_with_this_message_s_end() -> None:
    first, second = envelope(1), envelope(2)
    script = Script(answer=all_three_at_once)
    async with channel_to(script) as channel:
        sent = await channel.send(first, then=second)
        # Before the second send is even asked for, its MAIL, RCPT and DATA are there...
        await arrived(script, 2)
        assert script.reads[1][0].startswith(b"MAIL FROM")
        assert len(script.messages) == 1  # ...but not its content, which waits for its send
        sent_too = await channel.send(second)
    assert [sent.outcome, sent_too.outcome] == [Outcome.SENT, Outcome.SENT]
    assert len(script.reads) == 2  # the second transaction's commands were not sent again
    assert [b"Subject: Reminder 2" in m for m in script.messages] == [False, True]
    assert script.connections == 1


async def test_a_server_slow_to_answer_the_dot_keeps_the_connection_primed_for_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A primed connection is forgotten when its sender does not come back soon after
    # the dot is answered; the time the server takes to answer does not count.
    monkeypatch.setattr("touchflow.channels.smtp._PRIMED_LIMIT", 0.1)
    script = Script(answer=all_three_at_once, scanning=0.3)  # within the client's timeout
    one, two, three = envelope(1), envelope(2), envelope(3)
    async with channel_to(script) as channel:
        sent = [
            await channel.send(one, then=two),
            await channel.send(two, then=three),
            await channel.send(three),
        ]
    assert [d.outcome for d in sent] == [Outcome.SENT] * 3
    assert script.connections == 1


async def test_a_message_refused_after_its_dot_drops_the_connection_primed_for_the_next() -> None:
    def refuse_first(message: bytes) -> bytes:
        if b"Subject: Reminder 1" in message:
            return b"554 5.6.0 message refused\r\n"
        return b"250 2.0.0 queued\r\n"

    script = Script(answer=all_three_at_once, ends=refuse_first)
    async with channel_to(script) as channel:
        refused = await channel.send(envelope(1), then=envelope(2))
        sent = await channel.send(envelope(2))
    assert refused.outcome is Outcome.FAILED
    assert refused.detail.endswith("554 5.6.0 message refused (after DATA)")
    # Its replies to the next MAIL, RCPT and DATA would have put an RSET out of step:
    # the second message goes on a new connection.
    assert sent.outcome is Outcome.SENT
    assert script.connections == 2
    assert [b"Subject: Reminder 2" in m for m in script.messages] == [False, True]


async def test_a_connection_primed_for_a_message_that_never_comes_is_closed_not_quit() -> None:
    script = Script(answer=all_three_at_once)
    async with channel_to(script) as channel:
        await channel.send(envelope(1), then=envelope(2))
        await arrived(script, 2)
    # A QUIT would have been taken for the second message's content; closing the
    # connection makes the server discard the transaction. Only the first ever ended.
    assert len(script.messages) == 1


async def test_a_primed_connection_is_not_given_to_another_message() -> None:
    script = Script(answer=all_three_at_once)
    async with serve_script(script) as port:
        channel = SmtpChannel(settings(port, connections=2), environ={})
        try:
            await channel.send(envelope(1), then=envelope(2))
            other = await channel.send(envelope(3))  # not the one the connection waits for
            second = await channel.send(envelope(2))
        finally:
            await channel.aclose()
    assert [other.outcome, second.outcome] == [Outcome.SENT, Outcome.SENT]
    assert script.connections == 2
    assert [m.count(b"Subject: Reminder") for m in script.messages] == [1, 1, 1]


async def test_a_connection_primed_for_a_message_its_sender_gave_up_is_closed_at_once() -> None:
    script = Script(answer=all_three_at_once)
    async with serve_script(script) as port:
        channel = SmtpChannel(settings(port, connections=1), environ={})
        try:
            second, third_envelope = envelope(2), envelope(3)
            await channel.send(envelope(1), then=second)
            channel.unprime(third_envelope)  # not the one it waits for: nothing happens
            assert [s.primed for s, _ in channel._idle] == [second]
            channel.unprime(second)  # its sender stopped: it goes back to pending
            third = await channel.send(third_envelope)
            open_now = sum(1 for s, _ in channel._idle if s.is_connected)
        finally:
            await channel.aclose()
    assert third.outcome is Outcome.SENT
    # One connection open at a time, as configured; the second message never ended.
    assert (script.connections, open_now) == (2, 1)
    assert [b"Subject: Reminder 2" in m for m in script.messages] == [False, False]
