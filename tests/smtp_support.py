"""A real SMTP server for tests: aiosmtpd in a thread, answering from a script."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

STALL = 3.0  # how long a stalling server waits: far past the client's timeout
PASSWORD = "correct-horse-battery-staple-7"


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
