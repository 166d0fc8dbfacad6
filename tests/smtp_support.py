"""SMTP servers for tests, answering as each test needs, and what SmtpChannel tests send them.

Two kinds: a real aiosmtpd server in a thread (``Handler``, ``serve``) for whole
dialogues, TLS and AUTH; and a bare socket server in the test's own loop
(``Script``, ``serve_script``) for what aiosmtpd will not do: replies split or joined
anyhow, a refusing greeting, a view of which commands arrived together.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from touchflow.channels import Envelope
from touchflow.config.delivery import SmtpSettings, TlsMode

STALL = 3.0  # how long a stalling server waits: far past the client's timeout
PASSWORD = "correct-horse-battery-staple-7"
TIMEOUT = 0.5  # the client's timeout in settings(): a stalling server is given up on quickly


class Handler:
    """Records what the server received; answers each command from a script.

    ``mail``/``rcpt``/``data`` are lists of replies used in turn (the last one
    repeats). ``stall`` makes the server wait before answering that command;
    ``drop_after_data`` closes the connection after the message, unanswered.
    ``pipelining`` makes EHLO offer PIPELINING (RFC 2920), which aiosmtpd does not
    by itself; it reads commands in order either way, so it serves a pipelining
    client correctly.
    """

    pipelining = False  # the smtp_pipelining fixture (tests/integration) runs tests both ways

    def __init__(
        self,
        *,
        mail: tuple[str, ...] = ("250 2.1.0 Ok",),
        rcpt: tuple[str, ...] = ("250 2.1.5 Ok",),
        data: tuple[str, ...] = ("250 2.0.0 Ok: queued as 42",),
        stall: str | None = None,
        drop_after_data: bool = False,
    ) -> None:
        self.replies = {"MAIL": list(mail), "RCPT": list(rcpt), "DATA": list(data)}
        self.stall = stall
        self.drop_after_data = drop_after_data
        self.peers: list[str] = []  # one per connection that got as far as MAIL
        self.received: list[tuple[str, list[str], bytes]] = []
        self.logins: list[bytes] = []
        self.quits = 0
        self.rcpt_count = 0  # RCPT commands seen, whatever the answer
        self.mail_options: list[list[str]] = []  # ESMTP parameters of each MAIL FROM

    async def _answer(self, command: str) -> str:
        if self.stall == command:
            await asyncio.sleep(STALL)
        replies = self.replies[command]
        return replies.pop(0) if len(replies) > 1 else replies[0]

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if session.peer not in self.peers:
            self.peers.append(session.peer)
        self.mail_options.append(list(options))
        reply = await self._answer("MAIL")
        if reply.startswith("250"):
            envelope.mail_from = address
        return reply

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.rcpt_count += 1
        reply = await self._answer("RCPT")
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop_after_data:
            server.transport.close()
            return "250 never seen"
        reply = await self._answer("DATA")
        if reply.startswith("250"):
            self.received.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return reply

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append(auth_data.login)
        ok = auth_data.login == b"mailer" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(handler: Handler, **smtp_options: Any) -> Iterator[int]:
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), server_hostname="localhost", **smtp_options
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


class TimedHandler(Handler):
    """Notes when each message arrived (by subject), after ``delay`` seconds of DATA."""

    def __init__(self, *, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.arrived: dict[str, float] = {}  # subject → time.monotonic() at the server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        reply = await super().handle_DATA(server, session, envelope)
        subject = re.search(rb"^Subject: (.*?)\r?$", envelope.content, re.MULTILINE)
        assert subject is not None
        self.arrived[subject.group(1).decode()] = time.monotonic()
        return reply


# --- a bare socket server ---------------------------------------------------------

EHLO_PIPELINING = b"250-sink.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
EHLO_PLAIN = b"250-sink.test\r\n250 8BITMIME\r\n"
GREETING = b"220 sink.test ESMTP\r\n"


def _unexpected(commands: list[bytes]) -> bytes | None:
    raise AssertionError(f"the script has no answer for {commands}")


@dataclass
class Script:
    """How the server answers. ``answer(commands)`` gets the commands of the current
    transaction not yet answered and returns the bytes to write, or None to wait for more.
    A ``greeting`` other than 220 is all a client gets: the server closes after it."""

    answer: Callable[[list[bytes]], bytes | None] = _unexpected
    ehlo: bytes = EHLO_PIPELINING
    greeting: bytes = GREETING
    # The reply to a message's final dot, given the message.
    ends: Callable[[bytes], bytes] = lambda message: b"250 2.0.0 queued\r\n"
    scanning: float = 0.0  # seconds before the final dot is answered (content scanning)
    reads: list[list[bytes]] = field(default_factory=list)  # commands per answer written
    messages: list[bytes] = field(default_factory=list)
    connections: int = 0


async def _session(
    script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    script.connections += 1
    writer.write(script.greeting)
    if not script.greeting.startswith(b"220"):
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        return
    waiting: list[bytes] = []
    try:
        while line := await reader.readline():
            command = line.rstrip(b"\r\n")
            verb = command.split(b" ", 1)[0].upper()
            if verb == b"EHLO":
                writer.write(script.ehlo)
            elif verb in (b"QUIT", b"RSET"):
                writer.write(b"221 bye\r\n" if verb == b"QUIT" else b"250 ok\r\n")
            else:
                waiting.append(command)
                answer = script.answer(waiting)
                if answer is None:
                    continue
                script.reads.append(waiting)
                waiting = []
                writer.write(answer)
                if answer.startswith(b"421"):
                    break  # closing the connection, as RFC 5321 says it does
                if answer.rstrip().endswith(b"354 go ahead"):
                    script.messages.append(await reader.readuntil(b"\r\n.\r\n"))
                    await asyncio.sleep(script.scanning)
                    writer.write(script.ends(script.messages[-1]))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


@asynccontextmanager
async def serve_script(script: Script) -> AsyncIterator[int]:
    """A server on 127.0.0.1 answering from ``script``, in this loop: its port."""
    server = await asyncio.start_server(
        lambda r, w: _session(script, r, w), host="127.0.0.1", port=0
    )
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


# --- what the channel is given ----------------------------------------------------


def settings(port: int, **overrides: Any) -> SmtpSettings:
    """A channel's settings for a test server on 127.0.0.1:``port``: plain, one connection."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "tls": TlsMode.NONE,
        "timeout": TIMEOUT,
        "connections": 1,
        "helo": "touchflow.test",
    }
    values.update(overrides)
    return SmtpSettings(**values)


def envelope(n: int = 1, recipient: str = "ana@example.org") -> Envelope:
    """Message ``n`` (its own Message-ID and subject), with a line the wire must dot-stuff."""
    message_id = f"<{n:032x}@lumen.example>"
    data = (
        "From: Lumen Studio <hello@lumen.example>\r\n"
        f"To: {recipient}\r\n"
        f"Subject: Reminder {n}\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "See you tomorrow.\r\n"
        ".a line that starts with a dot\r\n"
        ".\r\n"
    ).encode()
    return Envelope(
        key=f"reminder:c{n}",
        sender="hello@lumen.example",
        recipient=recipient,
        data=data,
        message_id=message_id,
    )
