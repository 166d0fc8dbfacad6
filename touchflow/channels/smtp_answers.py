"""What an SMTP server's answer, or a failure on the way, means for a touchpoint.

Decided here, once (the table is in docs/operations.md, "How delivery failures are
classified"): 4xx, timeouts and dropped connections retry; 5.1.x at RCPT or after DATA
is a bad mailbox; other 5xx for the message fail with an alert. Problems of the
session rather than the message (no STARTTLS, an unverifiable certificate, AUTH
refused, a 5xx greeting) retry with an alert: the configuration needs a person, and
failing every touchpoint permanently would lose them. Each detail names the server,
the reply and the stage; passwords never appear in one.
"""

from __future__ import annotations

import re
import ssl

from aiosmtplib import (
    SMTPException,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from touchflow.channels import Delivery, Outcome
from touchflow.config.delivery import SmtpSettings
from touchflow.ids import one_line

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})\b")
# Stages of the session rather than of a message: a 5xx there needs a person, not a retry.
SESSION_STAGES = frozenset({"at connect", "at EHLO", "at STARTTLS", "at AUTH"})
_SENDER_CODES = frozenset({"5.1.7", "5.1.8"})  # 5.1.x about the sender, not the recipient
_MAX_TEXT = 400  # characters of server text kept in a detail


class NoStartTls(SMTPException):
    """The server did not offer STARTTLS although the settings require it."""


def classify(exc: Exception, stage: str, settings: SmtpSettings) -> Delivery:
    address = settings.address
    if isinstance(exc, NoStartTls):
        return Delivery(
            outcome=Outcome.RETRY,
            detail=f"{address} does not offer STARTTLS; delivery.smtp.tls is starttls, "
            "so nothing was sent",
            alert=True,
        )
    tls_problem = _tls_problem(exc)
    if tls_problem is not None:
        return Delivery(
            outcome=Outcome.RETRY,
            detail=f"TLS with {address} failed ({stage}): {tls_problem}; nothing was sent "
            "(check delivery.smtp.host and delivery.smtp.ca_file)",
            alert=True,
        )
    if isinstance(exc, SMTPResponseException) and exc.code > 0:
        return _from_reply(exc.code, exc.message, stage, address)
    return _from_error(exc, stage, settings)


def _from_reply(code: int, message: str, stage: str, address: str) -> Delivery:
    text = f"{address} answered {reply_text(code, message)} ({stage})"
    enhanced = _enhanced(message)
    if code == 421:
        return Delivery(
            outcome=Outcome.RETRY, detail=f"{text}; it is closing the connection", code=code
        )
    if 400 <= code < 500:
        return Delivery(outcome=Outcome.RETRY, detail=text, code=code)
    if 500 <= code < 600 and stage in SESSION_STAGES:
        why = "the login was refused" if stage == "at AUTH" else "the server refuses the session"
        return Delivery(
            outcome=Outcome.RETRY,
            detail=f"{text}; {why}, nothing was sent (check delivery.smtp)",
            code=code,
            alert=True,
        )
    mailbox_stage = stage in ("at RCPT", "after DATA")
    if enhanced.startswith("5.1.") and mailbox_stage and enhanced not in _SENDER_CODES:
        return Delivery(outcome=Outcome.BAD_MAILBOX, detail=text, code=code)
    if 500 <= code < 600:
        return Delivery(outcome=Outcome.FAILED, detail=text, code=code, alert=True)
    return Delivery(
        outcome=Outcome.RETRY, detail=f"{text}: not an SMTP answer", code=code, alert=True
    )


def _from_error(exc: Exception, stage: str, settings: SmtpSettings) -> Delivery:
    address = settings.address
    maybe_sent = (
        "; the server may have accepted the message, so a retry can deliver it twice "
        "(with the same Message-ID)"
        if stage == "after DATA"
        else ""
    )
    if isinstance(exc, SMTPTimeoutError | TimeoutError):
        detail = f"no answer from {address} within {settings.timeout:g} s ({stage}){maybe_sent}"
        return Delivery(outcome=Outcome.RETRY, detail=detail)
    if isinstance(exc, ValueError):
        # An envelope address the library refuses to put on the wire (control characters).
        return Delivery(outcome=Outcome.FAILED, detail=f"cannot send ({stage}): {exc}", alert=True)
    if stage == "at AUTH":
        return Delivery(
            outcome=Outcome.RETRY,
            detail=f"cannot log in to {address}: {exc} (check delivery.smtp)",
            alert=True,
        )
    if isinstance(exc, SMTPServerDisconnected) and stage != "at connect":
        detail = f"{address} closed the connection ({stage}){maybe_sent}"
        return Delivery(outcome=Outcome.RETRY, detail=detail)
    reason = exc.message if isinstance(exc, SMTPException) else str(exc)
    if stage == "at connect":
        return Delivery(outcome=Outcome.RETRY, detail=f"cannot reach {address}: {reason}")
    detail = f"{address}: {reason} ({stage}){maybe_sent}"
    return Delivery(outcome=Outcome.RETRY, detail=detail, alert=True)


def _tls_problem(exc: BaseException) -> str | None:
    """The TLS error behind ``exc`` (the library wraps some), in words."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"the server's certificate could not be verified: {seen.verify_message}"
        if isinstance(seen, ssl.SSLError):
            return f"the TLS handshake failed: {seen.reason or seen}"
        seen = seen.__cause__ or seen.__context__
    return None


def _enhanced(message: str) -> str:
    found = _ENHANCED.match(message.strip())
    return found.group(0) if found else ""


def reply_text(code: int, message: str) -> str:
    """``550 5.1.1 no such user`` on one line, cut to a readable length; what the server
    put in it that is not text (a NUL, a control, a lone surrogate) as a visible escape,
    so the outbox's last error can hold it in any store."""
    lines = (one_line(line.strip()) for line in message.splitlines() if line.strip())
    text = " / ".join(lines).encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT] + "…"
    return f"{code} {text}".rstrip()
