"""SMTP delivery: required TLS, a connection pool, pipelining, and classified answers.

aiosmtplib opens each session (TLS, EHLO, AUTH); ``smtp_session`` then runs the
mail transactions on it, pipelined when the server offers it (docs/decisions.md).

What a server's answer means for the touchpoint is decided once, in
``smtp_answers`` (the table is in docs/operations.md, "How delivery failures are
classified").

Each detail names the server, the reply and the stage ("at RCPT", "after
DATA"). Passwords never appear in one.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Mapping
from email.utils import parseaddr

from aiosmtplib import (
    SMTP,
    SMTPException,
    SMTPResponseException,
    SMTPServerDisconnected,
)

from touchflow.channels import Delivery, Envelope, Outcome
from touchflow.channels.smtp_answers import SESSION_STAGES, NoStartTls, classify, reply_text
from touchflow.channels.smtp_session import Session, Stage, transaction
from touchflow.config.delivery import ChannelConfigError, SmtpSettings, TlsMode
from touchflow.headers import BARE_ADDRESS

# A pooled connection unused for this long is closed rather than reused: servers
# drop idle sessions (often after 60 s or more) and a dead one costs a round trip.
_IDLE_LIMIT = 50.0
# A connection primed for a message (its MAIL, RCPT and DATA sent with the previous
# message's dot) whose sender has not come back for it within this long after the
# connection was given back (the dot answered) is closed.
_PRIMED_LIMIT = 5.0
_UNSAFE = re.compile(r"[\s<>,;\x00-\x1f\x7f]")


def _ended_before_mail(exc: BaseException) -> bool:
    """A reused connection the server had closed, or closes now with a 421 to MAIL (a
    limit of messages per connection): nothing of the message went out, so it goes on a
    new connection at once, not counted as an attempt."""
    if isinstance(exc, SMTPServerDisconnected):
        return True
    return isinstance(exc, SMTPResponseException) and exc.code == 421


class _Pacer:
    """Spaces sends at least 1/rate seconds apart over all connections, without polling.

    Each caller reserves the next free slot at once (no await in between, so no
    lock is needed) and sleeps until it; a burst therefore leaves evenly spaced.
    """

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0  # time.monotonic() of the next free slot

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


class SmtpChannel:
    """Delivers over SMTP; safe to call ``send`` from many tasks at once."""

    def __init__(self, settings: SmtpSettings, *, environ: Mapping[str, str]) -> None:
        self._settings = settings
        self._login = _credentials(settings, environ)
        self._tls_context = _tls_context(settings)
        self._helo = settings.helo
        self._slots = asyncio.Semaphore(settings.connections)
        self._pacer = _Pacer(settings.rate) if settings.rate else None
        self._idle: list[tuple[Session, float]] = []  # with time.monotonic() of its last use
        self._closed = False

    @property
    def name(self) -> str:
        return f"smtp {self._settings.address}"

    @property
    def concurrency(self) -> int:
        return self._settings.connections

    async def send(
        self,
        envelope: Envelope,
        *,
        after: Awaitable[object] | None = None,
        then: Envelope | None = None,
    ) -> Delivery:
        problem = _envelope_problem(envelope)
        if problem is not None:
            return Delivery(outcome=Outcome.FAILED, detail=problem, alert=True)
        if then is not None and (self._pacer is not None or _envelope_problem(then)):
            then = None  # paced sends start when their slot comes; a bad one is not sent
        async with self._slots:
            if self._pacer is not None:
                await self._pacer.wait()
            session = self._take_idle(envelope)
            if session is not None:
                delivery = await self._attempt(session, envelope, after, then)
                if delivery is not None:
                    return delivery
            # No idle connection, or the server had closed the idle one: a fresh one.
            delivery = await self._attempt(None, envelope, after, then)
            assert delivery is not None  # only a reused connection can be stale
            return delivery

    async def aclose(self) -> None:
        """QUIT every idle connection; busy ones are closed when their send ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for session, _ in idle:
            if session.primed is not None:  # mid-transaction: QUIT would be message text
                session.close()
                continue
            try:
                await session.quit()
            except (SMTPException, OSError):
                session.close()

    async def _attempt(
        self,
        session: Session | None,
        envelope: Envelope,
        after: Awaitable[object] | None,
        then: Envelope | None,
    ) -> Delivery | None:
        """One send on an idle connection, or on a new one (``session`` None); None when
        the idle connection turned out closed."""
        reused = session is not None
        stage = Stage("at MAIL" if reused else "at connect")
        smtp: SMTP | None = None
        try:
            if session is None:
                smtp = self._new_smtp()
                await self._open(smtp, stage)
                session = Session(smtp, timeout=self._settings.timeout)
            reply = await transaction(session, envelope, stage, after, then)
        except (SMTPException, OSError, ValueError) as exc:
            if reused and stage.name == "at MAIL" and _ended_before_mail(exc):
                assert session is not None
                session.close()
                return None
            await self._after_failure(session, smtp, exc, stage)
            return self._scrub(classify(exc, stage.name, self._settings))
        except BaseException:
            # Cancelled mid-dialogue: the session state is unknown.
            if session is not None:
                session.close()
            elif smtp is not None:
                smtp.close()
            raise
        self._give_back(session)
        return Delivery(
            outcome=Outcome.SENT, detail=reply_text(reply.code, reply.message), code=reply.code
        )

    async def _open(self, smtp: SMTP, stage: Stage) -> None:
        if self._helo is None:
            # The library would look this up (blocking DNS) on every connection.
            self._helo = await asyncio.to_thread(socket.getfqdn)
            smtp.local_hostname = self._helo
        await smtp.connect()
        stage.name = "at EHLO"
        await smtp.ehlo()
        if self._settings.tls is TlsMode.STARTTLS:
            if not smtp.supports_extension("starttls"):
                raise NoStartTls("STARTTLS not offered")
            stage.name = "at STARTTLS"
            await smtp.starttls()
            stage.name = "at EHLO"
            await smtp.ehlo()  # RFC 3207: forget what was said before TLS
        if self._login is not None:
            stage.name = "at AUTH"
            await smtp.login(*self._login)

    def _new_smtp(self) -> SMTP:
        s = self._settings
        return SMTP(
            hostname=s.host,
            port=s.port,
            local_hostname=self._helo,
            timeout=s.timeout,
            use_tls=s.tls is TlsMode.IMPLICIT,
            # False, never None: the library's default upgrades only when offered.
            start_tls=False,
            validate_certs=True,
            tls_context=self._tls_context,
        )

    def unprime(self, envelope: Envelope) -> None:
        """Close the idle connection primed for ``envelope``: its sender will not send it,
        and the connection, mid-transaction, is good for nothing else."""
        keep: list[tuple[Session, float]] = []
        for session, since in self._idle:
            if session.primed is envelope:
                session.close()
            else:
                keep.append((session, since))
        self._idle = keep

    def _take_idle(self, envelope: Envelope) -> Session | None:
        """The connection primed for ``envelope``, else the most recently used free one
        (the most likely alive). One primed for another message is left to that
        message's sender, which comes back for it next, unless it never does."""
        now = time.monotonic()
        usable: list[tuple[Session, float]] = []
        for session, since in self._idle:
            stale = not session.is_connected or now - since >= _IDLE_LIMIT
            # Idle since it came back, not since it was primed: a server slow to answer
            # the dot (content scanning) must not cost the message its connection.
            forgotten = session.primed is not None and now - since > _PRIMED_LIMIT
            if stale or forgotten:
                session.close()  # a forgotten transaction is discarded with its connection
            else:
                usable.append((session, since))
        self._idle = usable
        found = [i for i, (session, _) in enumerate(usable) if session.primed is envelope]
        found = found or [i for i, (session, _) in enumerate(usable) if session.primed is None]
        return usable.pop(found[-1])[0] if found else None

    def _give_back(self, session: Session) -> None:
        if self._closed or not session.is_connected:
            session.close()
        else:
            self._idle.append((session, time.monotonic()))

    async def _after_failure(
        self, session: Session | None, smtp: SMTP | None, exc: Exception, stage: Stage
    ) -> None:
        """Keep a healthy connection after a refused message; drop any other."""
        if session is None:  # it failed while opening
            if smtp is not None:
                smtp.close()
            return
        refused = (
            isinstance(exc, SMTPResponseException)
            and exc.code != 421
            and stage.name not in SESSION_STAGES
            and session.is_connected
        )
        if refused:
            try:
                if (await session.command(b"RSET")).code == 250:
                    self._give_back(session)
                    return
            except (SMTPException, OSError):
                pass
        session.close()

    def _scrub(self, delivery: Delivery) -> Delivery:
        """Belt and braces: a server that echoes the password must not put it in a log."""
        if self._login is None or self._login[1] not in delivery.detail:
            return delivery
        detail = delivery.detail.replace(self._login[1], "[password]")
        return Delivery(
            outcome=delivery.outcome, detail=detail, code=delivery.code, alert=delivery.alert
        )


def _envelope_problem(envelope: Envelope) -> str | None:
    """Why an envelope address cannot go on the wire as it is, or None.

    The library would pass "Ana <a@x>" or "a@x, b@y" through ``parseaddr`` and
    send to whatever it extracts: a guess. Only bare ASCII addresses are sent.
    """
    for what, address in (("sender", envelope.sender), ("recipient", envelope.recipient)):
        if what == "sender" and address == "":
            continue  # the null reverse-path
        if BARE_ADDRESS.fullmatch(address):
            continue  # what nearly every address is: the full check below costs more
        bare = parseaddr(address)[1] == address and "@" in address
        if not bare or not address.isascii() or _UNSAFE.search(address):
            return f"the {what} {address!r} is not one bare ASCII address; nothing was sent"
    return None


def _credentials(settings: SmtpSettings, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """``(username, password)`` from the environment variables the settings name."""
    if settings.username_env is None or settings.password_env is None:
        return None
    values: list[str] = []
    for key, variable in (
        ("username_env", settings.username_env),
        ("password_env", settings.password_env),
    ):
        value = environ.get(variable)
        if not value:
            state = "not set" if value is None else "empty"
            raise ChannelConfigError(
                f"delivery.smtp.{key} names the environment variable {variable}, which is "
                f"{state}; set it in the environment touchflow runs in"
            )
        values.append(value)
    return values[0], values[1]


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext | None:
    """Certificates always verified, against ``ca_file`` if given, else the system's CAs."""
    if settings.tls is TlsMode.NONE:
        return None
    cafile = str(settings.ca_file) if settings.ca_file is not None else None
    try:
        return ssl.create_default_context(cafile=cafile)
    except OSError as exc:  # ssl.SSLError is an OSError too
        raise ChannelConfigError(
            f"delivery.smtp.ca_file: cannot load CA certificates from {cafile}: "
            f"{exc.strerror or exc}"
        ) from None
