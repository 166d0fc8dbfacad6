"""One SMTP connection's mail transactions, pipelined (RFC 2920) when the server offers it.

aiosmtplib opens the session: TCP, implicit TLS or STARTTLS with certificates
checked, EHLO, AUTH. Then the connection is handed to ``Session``, which runs
MAIL, RCPT and DATA itself, because aiosmtplib reads exactly one reply per
command it writes: it cannot pipeline, and each command pays a lock, a
``wait_for`` and a fresh future. With PIPELINING, MAIL, RCPT and DATA leave in
one write and their three replies are read together, so a message costs two
round trips instead of four (docs/decisions.md has the measurements).

Across messages too (RFC 2920 3.1: DATA ends a group, and the next group may
follow the message's final dot): when the caller names the message it sends
next on this connection, that message's MAIL, RCPT and DATA leave in the same
write as this one's content and final dot, and the session is *primed* for it.
A message then costs one write and one round trip. Only a message's content
waits for its 354, and for ``after``.

Replies are parsed here (RFC 5321 4.2: a three-digit code, ``-`` for a line
that continues), and problems raise aiosmtplib's own exceptions, so callers
classify them the same way whichever side noticed.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import cast

from aiosmtplib import (
    SMTP,
    SMTPDataError,
    SMTPReadTimeoutError,
    SMTPRecipientRefused,
    SMTPResponse,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPStatus,
    SMTPTimeoutError,
)

from touchflow.channels import Envelope

_MAX_LINE = 8192  # bytes in one reply line (aiosmtplib's limit too)
_MAX_REPLY = 4 * _MAX_LINE  # bytes in one whole (multi-line) reply
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")  # CR, LF or NUL in a command would inject another


class _Replies(asyncio.Protocol):
    """Collects complete replies in order; a reader waits for the next one."""

    def __init__(self) -> None:
        self.transport: asyncio.WriteTransport | None = None
        self._buffer = bytearray()
        self._lines: list[bytes] = []  # the lines of a reply still being received
        self._ready: deque[SMTPResponse] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._problem: Exception | None = None  # once set, every later read raises it

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            self._parse()
        except SMTPResponseException as exc:
            self._fail(exc)
            if self.transport is not None:
                self.transport.close()
        self._wake()

    def eof_received(self) -> bool:
        self._fail(SMTPServerDisconnected("Unexpected EOF received"))
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        lost = SMTPServerDisconnected("Connection lost")
        lost.__cause__ = exc
        self._fail(lost)
        self.transport = None

    async def read(self, timeout: float | None) -> SMTPResponse:
        """The next reply; raises if the connection ended or nothing came in time."""
        while not self._ready:
            if self._problem is not None:
                raise self._problem
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._waiter
            except TimeoutError:
                raise SMTPReadTimeoutError("Timed out waiting for server response") from None
            finally:
                self._waiter = None
        return self._ready.popleft()

    def _parse(self) -> None:
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            if len(line) > _MAX_LINE:
                raise SMTPResponseException(-1, "Response too long")
            if not line[:3].isdigit():
                text = line.decode("utf-8", "replace").strip()
                raise SMTPResponseException(-1, f"Malformed SMTP response line: {text}")
            self._lines.append(line)
            if line[3:4] != b"-":
                lines, self._lines = self._lines, []
                self._ready.append(_reply(lines))
        if len(self._buffer) + sum(map(len, self._lines)) > _MAX_REPLY:
            raise SMTPResponseException(-1, "Response too long")

    def _fail(self, problem: Exception) -> None:
        if self._problem is None:
            self._problem = problem
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _reply(lines: list[bytes]) -> SMTPResponse:
    """The code of the last line, and every line's text joined with newlines."""
    text = (_text(raw[4:].strip(b" \t\r\n")) for raw in lines)
    return SMTPResponse(int(lines[-1][:3]), "\n".join(text))


def _text(raw: bytes) -> str:
    """A reply's text as UTF-8, or else Latin-1 (older servers' "Benutzer unbekannt"):
    never with surrogates, which no store can write into the outbox's last error."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class Session:
    """An open, greeted (and, as configured, encrypted and logged-in) SMTP connection."""

    def __init__(self, smtp: SMTP, *, timeout: float | None) -> None:
        transport = smtp.transport
        if transport is None or transport.is_closing():
            raise SMTPServerDisconnected("Connection lost")
        self._smtp = smtp  # keeps aiosmtplib's state (its connect lock) until close()
        self._replies = _Replies()
        self._replies.transport = cast(asyncio.WriteTransport, transport)
        transport.set_protocol(self._replies)
        self.timeout = timeout
        self.pipelining = smtp.supports_extension("pipelining")
        self.size = smtp.supports_extension("size")
        self.eight_bit = smtp.supports_extension("8bitmime")
        # The envelope whose MAIL, RCPT and DATA are on the wire, replies unread: this
        # session is only good for that message now (or for closing: not QUIT, which
        # the server would take for message content).
        self.primed: Envelope | None = None

    @property
    def is_connected(self) -> bool:
        transport = self._replies.transport
        return transport is not None and not transport.is_closing()

    def write(self, *chunks: bytes) -> None:
        """Command lines (from ``checked``, with their CRLF) or message data, in one write."""
        transport = self._replies.transport
        if transport is None or transport.is_closing():
            raise SMTPServerDisconnected("Connection lost")
        transport.write(b"".join(chunks))

    async def read(self) -> SMTPResponse:
        return await self._replies.read(self.timeout)

    async def command(self, line: bytes) -> SMTPResponse:
        """One command and its reply."""
        self.write(checked(line))
        return await self.read()

    async def quit(self) -> None:
        try:
            await self.command(b"QUIT")
        finally:
            self.close()

    def close(self) -> None:
        self._smtp.close()


def checked(line: bytes) -> bytes:
    """A command line with its CRLF; raises ValueError for control characters in it."""
    if _CONTROL.search(line):
        raise ValueError("Command arg contains a prohibited control character")
    return line + b"\r\n"


@dataclass(slots=True)
class Stage:
    """Where in the SMTP dialogue a send is, for the detail of a failure."""

    name: str


async def transaction(
    session: Session,
    envelope: Envelope,
    stage: Stage,
    after: Awaitable[object] | None,
    then: Envelope | None = None,
) -> SMTPResponse:
    """MAIL, RCPT, DATA for one recipient; raises on any answer but success.

    With PIPELINING the three commands leave in one write and all three replies
    are read before any is judged, so the connection stays in step for RSET. If
    the session is primed for ``envelope``, they left already. ``then``, the next
    message on this connection, gets its commands sent with this message's dot
    (the caller has checked its addresses).
    """
    content = crlf(envelope.data)
    primed, session.primed = session.primed is envelope, None
    commands = None if primed else _commands(session, envelope, content)
    replies = await _exchange(session, commands, stage)
    _judge(session, replies, envelope, stage)
    if after is not None:
        # MAIL, RCPT and DATA went out while ``after`` ran; the message waits for it (in
        # one write with its final ".", which is cheaper than two). If it fails, the
        # connection is dropped: the server discards a transaction without a message.
        try:
            await after
        except BaseException:
            session.close()
            raise
    stage.name = "after DATA"
    return await _message(session, content, then)


async def _message(session: Session, content: bytes, then: Envelope | None) -> SMTPResponse:
    """The message and its final dot (with ``then``'s commands, pipelined), and its reply."""
    ahead: tuple[bytes, ...] = ()
    if then is not None and session.pipelining:
        ahead = _commands(session, then, crlf(then.data))
    session.write(dot_stuffed(content), b".\r\n", *ahead)
    if ahead:
        session.primed = then
    try:
        reply = await session.read()
    except (SMTPServerDisconnected, SMTPTimeoutError):
        session.close()
        raise
    if reply.code != 250:
        if session.primed is not None:
            # The replies to the next message's commands are on their way: RSET would
            # read one of them as its own. A new connection is cheaper than sorting it out.
            session.close()
        raise SMTPDataError(reply.code, reply.message)
    return reply


def _commands(session: Session, envelope: Envelope, content: bytes) -> tuple[bytes, ...]:
    """MAIL (with the extensions the server offers), RCPT and DATA, each with its CRLF."""
    options = b""
    if session.size:
        options += b" SIZE=%d" % len(content)  # RFC 1870: before dot-stuffing
    if session.eight_bit and not envelope.data.isascii():
        options += b" BODY=8BITMIME"
    # _envelope_problem has checked both addresses: bare, ASCII, nothing to quote.
    return (
        checked(b"MAIL FROM:<%s>%s" % (envelope.sender.encode("ascii"), options)),
        checked(b"RCPT TO:<%s>" % envelope.recipient.encode("ascii")),
        checked(b"DATA"),
    )


_WANTED = (
    frozenset({SMTPStatus.completed}),  # MAIL
    frozenset({SMTPStatus.completed, SMTPStatus.will_forward}),  # RCPT
    frozenset({SMTPStatus.start_input}),  # DATA
)
_STAGES = ("at MAIL", "at RCPT", "at DATA")


def _accepted(step: int, code: int) -> bool:
    return code in _WANTED[step]


async def _exchange(
    session: Session, commands: tuple[bytes, ...] | None, stage: Stage
) -> list[SMTPResponse]:
    """Send MAIL, RCPT and DATA, pipelined or one by one, and read their replies
    (``commands`` None: they were sent already, pipelined, with the last message's end).

    Pipelined, every reply is read before any is judged, so the connection stays in
    step for RSET; once one was a refusal, a connection that ends before the rest
    arrive is closed and the refusal still counts. One by one, a refusal ends it.
    """
    pipelined = session.pipelining or commands is None
    if pipelined and commands is not None:
        session.write(*commands)
    replies: list[SMTPResponse] = []
    for step in range(len(_STAGES)):
        refused = not all(_accepted(i, r.code) for i, r in enumerate(replies))
        if refused and not pipelined:
            break
        if not refused:
            stage.name = _STAGES[step]
        if not pipelined:
            assert commands is not None
            session.write(commands[step])
        try:
            replies.append(await session.read())
        except (SMTPServerDisconnected, SMTPTimeoutError):
            if not refused:
                raise  # the stage of this read is the one to report
            session.close()
            break
    return replies


def _judge(session: Session, replies: list[SMTPResponse], envelope: Envelope, stage: Stage) -> None:
    """Raise for the first refused command, naming its stage."""
    for step, reply in enumerate(replies):
        if _accepted(step, reply.code):
            continue
        stage.name = _STAGES[step]
        if replies[-1].code == SMTPStatus.start_input:
            # It said 354 to DATA although it refused MAIL or RCPT: the session now
            # waits for a message that will not come. Start again on a new one.
            session.close()
        if step == 0:
            raise SMTPSenderRefused(reply.code, reply.message, envelope.sender)
        if step == 1:
            raise SMTPRecipientRefused(reply.code, reply.message, envelope.recipient)
        raise SMTPDataError(reply.code, reply.message)


def crlf(data: bytes) -> bytes:
    """CRLF line ends and a final CRLF, as SMTP requires."""
    pairs = data.count(b"\r\n")
    if not (data.count(b"\r") == data.count(b"\n") == pairs):  # composed messages already are
        data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def dot_stuffed(content: bytes) -> bytes:
    """RFC 5321 4.5.2: a line that starts with a dot gets a second one."""
    if not content.startswith(b".") and b"\n." not in content:
        return content
    return re.sub(rb"(?m)^\.", b"..", content)
