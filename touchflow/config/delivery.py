"""The ``delivery:`` section of touchflow.yaml: which channel, SMTP, TLS, DKIM, webhook and SMS.

``parse_delivery`` follows the conventions of ``touchflow.config.project_config``: every
problem goes to the ``Collector`` with its line and says what would be right,
and a value that could be a secret is never repeated in a message.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from touchflow.checks import Collector
from touchflow.config.sms import SmsSettings, read_sms
from touchflow.config.webhook import WebhookSettings, read_webhook
from touchflow.errors import UserError, shown
from touchflow.yamlload import LineDict


class ChannelKind(enum.StrEnum):
    MAILDIR = "maildir"
    SMTP = "smtp"


class TlsMode(enum.StrEnum):
    STARTTLS = "starttls"  # required: no STARTTLS offered means nothing is sent
    IMPLICIT = "implicit"  # TLS from the first byte (port 465)
    NONE = "none"  # plain text; only for a relay on localhost


DEFAULT_PORTS = {TlsMode.STARTTLS: 587, TlsMode.IMPLICIT: 465, TlsMode.NONE: 25}


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpSettings:
    host: str
    port: int  # default by tls: 587 starttls, 465 implicit, 25 none
    tls: TlsMode = TlsMode.STARTTLS
    ca_file: Path | None = None  # CAs trusted instead of the system's (absolute path)
    username_env: str | None = None  # names of environment variables, never the values
    password_env: str | None = None
    timeout: float = 30.0  # seconds, per SMTP command
    connections: int = 4  # concurrency limit: pooled connections
    rate: float | None = None  # messages per second over all connections; None: unlimited
    helo: str | None = None  # EHLO name; None: the local FQDN

    @property
    def address(self) -> str:
        """``host:port`` as logs and details print it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DkimSettings:
    selector: str
    domain: str
    key_file: Path  # PEM private key; the key itself never sits in touchflow.yaml


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverySettings:
    channel: ChannelKind = ChannelKind.MAILDIR  # smtp when an smtp: block is given
    maildir: Path = Path(".touchflow/maildir")  # relative to the project root
    smtp: SmtpSettings | None = None
    dkim: DkimSettings | None = None
    # Where rules with `channel: webhook` post (docs/channels.md); None: no such rule loads.
    webhook: WebhookSettings | None = None
    # How rules with `channel: sms` send (docs/channels.md); None: no such rule loads.
    sms: SmsSettings | None = None


class ChannelConfigError(UserError):
    """A channel cannot be opened as configured (e.g. an environment variable is not set)."""


_SMTP_KEYS = (
    "host",
    "port",
    "tls",
    "ca_file",
    "username_env",
    "password_env",
    "timeout",
    "connections",
    "rate",
    "helo",
)
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_HOST = re.compile(r"[A-Za-z0-9._:-]+")  # a name, an IPv4 or a bare IPv6 address
_LABELS = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?")


def parse_delivery(value: Any, line: int, out: Collector, root: Path) -> DeliverySettings | None:
    """Read ``delivery:``; every problem goes to ``out`` with its line."""
    doc = out.mapping(value, line, what="delivery")
    if doc is None:
        return None
    out.check_keys(doc, ("channel", "maildir", "smtp", "dkim", "webhook", "sms"), where="delivery")
    smtp = _read_smtp(doc["smtp"], doc.line_of("smtp"), out, root) if "smtp" in doc else None
    dkim = _read_dkim(doc["dkim"], doc.line_of("dkim"), out, root) if "dkim" in doc else None
    channel = ChannelKind.SMTP if "smtp" in doc else ChannelKind.MAILDIR
    if "channel" in doc:
        raw = doc["channel"]
        if raw in [k.value for k in ChannelKind]:
            channel = ChannelKind(raw)
        else:
            out.add(
                doc.line_of("channel"),
                f"delivery.channel must be maildir or smtp, not {shown(raw)}",
            )
    if channel is ChannelKind.SMTP and "smtp" not in doc:
        out.add(
            doc.line_of("channel"),
            "delivery.channel is smtp but there is no delivery.smtp block; "
            "add one with at least `host:` (or use channel: maildir)",
        )
    maildir = root / ".touchflow/maildir"
    if "maildir" in doc:
        text = out.text(doc["maildir"], doc.line_of("maildir"), what="delivery.maildir")
        if text is not None:
            maildir = root / text
    webhook = (
        read_webhook(doc["webhook"], doc.line_of("webhook"), out) if "webhook" in doc else None
    )
    sms = read_sms(doc["sms"], doc.line_of("sms"), out, root) if "sms" in doc else None
    return DeliverySettings(
        channel=channel, maildir=maildir, smtp=smtp, dkim=dkim, webhook=webhook, sms=sms
    )


def _read_smtp(value: Any, line: int, out: Collector, root: Path) -> SmtpSettings | None:
    doc = out.mapping(value, line, what="delivery.smtp")
    if doc is None:
        return None
    out.check_keys(doc, _SMTP_KEYS, where="delivery.smtp", required=("host",))
    host = _read_host(doc, out)
    tls = TlsMode.STARTTLS
    if "tls" in doc:
        if doc["tls"] in [t.value for t in TlsMode]:
            tls = TlsMode(doc["tls"])
        else:
            out.add(
                doc.line_of("tls"),
                f"delivery.smtp.tls must be starttls, implicit or none, not {shown(doc['tls'])}",
            )
    kw: dict[str, Any] = {"tls": tls}
    if "port" in doc:
        kw["port"] = _number(doc, "port", out, whole=True, least=1, most=65535)
    if "timeout" in doc:
        kw["timeout"] = _number(doc, "timeout", out, whole=False, least=None, most=None)
    if "connections" in doc:
        kw["connections"] = _number(doc, "connections", out, whole=True, least=1, most=None)
    if "rate" in doc:
        kw["rate"] = _number(doc, "rate", out, whole=False, least=None, most=None)
    if "ca_file" in doc:
        kw["ca_file"] = _existing_file(doc, "ca_file", "delivery.smtp.ca_file", out, root)
    if "helo" in doc:
        kw["helo"] = _read_name(doc, "helo", "delivery.smtp.helo", out, example="mail.example.com")
    kw.update(_read_credentials(doc, out))
    if host is None:
        return None
    values = {k: v for k, v in kw.items() if v is not None}
    values.setdefault("port", DEFAULT_PORTS[tls])
    return SmtpSettings(host=host, **values)


def _read_host(doc: LineDict, out: Collector) -> str | None:
    if "host" not in doc:
        return None  # check_keys reported it
    host = out.text(doc["host"], doc.line_of("host"), what="delivery.smtp.host")
    if host is None:
        return None
    if not _HOST.fullmatch(host):
        out.add(
            doc.line_of("host"),
            f"delivery.smtp.host must be a host name or IP address like smtp.example.com, "
            f"not {shown(host)}",
        )
        return None
    if host.count(":") == 1:  # an IPv6 address has several
        out.add(
            doc.line_of("host"),
            f"delivery.smtp.host is a host name without the port; write the port under "
            f"`port:`, not {shown(host)}",
        )
        return None
    return host


def _number(
    doc: LineDict, key: str, out: Collector, *, whole: bool, least: int | None, most: int | None
) -> float | int | None:
    """A whole number in [least, most], or any number > 0 (``whole=False``)."""
    raw = doc[key]
    kinds: tuple[type, ...] = (int,) if whole else (int, float)
    ok = isinstance(raw, kinds) and not isinstance(raw, bool)
    if ok and whole:
        ok = (least is None or raw >= least) and (most is None or raw <= most)
    elif ok:
        ok = raw > 0
    if ok:
        return float(raw) if not whole else int(raw)
    if whole:
        bounds = f"from {least} to {most}" if most is not None else f"≥ {least}"
        out.add(
            doc.line_of(key),
            f"delivery.smtp.{key} must be a whole number {bounds}, not {shown(raw)}",
        )
    else:
        unit = " (seconds)" if key == "timeout" else " (messages per second)"
        out.add(
            doc.line_of(key), f"delivery.smtp.{key} must be a number > 0{unit}, not {shown(raw)}"
        )
    return None


def _read_credentials(doc: LineDict, out: Collector) -> dict[str, str | None]:
    names: dict[str, str | None] = {}
    for key in ("username_env", "password_env"):
        if key not in doc:
            continue
        raw = doc[key]
        if isinstance(raw, str) and _ENV_NAME.fullmatch(raw):
            names[key] = raw
        else:
            # The value may be the secret itself: never repeat it.
            example = "TOUCHFLOW_SMTP_" + key.removesuffix("_env").upper()
            thing = key.removesuffix("_env")
            out.add(
                doc.line_of(key),
                f"delivery.smtp.{key} names an environment variable, e.g. {example} "
                f"(capital letters, digits and _); never put the {thing} itself in "
                "touchflow.yaml",
            )
            names[key] = None
    present = [key for key in ("username_env", "password_env") if key in doc]
    if len(present) == 1:
        missing = "password_env" if present == ["username_env"] else "username_env"
        out.add(
            doc.line_of(present[0]),
            f"delivery.smtp.{present[0]} needs delivery.smtp.{missing} too: "
            "give both (to log in) or neither",
        )
    return names


def _read_dkim(value: Any, line: int, out: Collector, root: Path) -> DkimSettings | None:
    doc = out.mapping(value, line, what="delivery.dkim")
    if doc is None:
        return None
    keys = ("selector", "domain", "key_file")
    out.check_keys(doc, keys, where="delivery.dkim", required=keys)
    selector = domain = key_file = None
    if "selector" in doc:
        selector = _read_name(doc, "selector", "delivery.dkim.selector", out, example="mail2026")
    if "domain" in doc:
        domain = _read_name(doc, "domain", "delivery.dkim.domain", out, example="example.com")
    if "key_file" in doc:
        key_file = _existing_file(doc, "key_file", "delivery.dkim.key_file", out, root)
    if selector is None or domain is None or key_file is None:
        return None
    return DkimSettings(selector=selector, domain=domain, key_file=key_file)


def _read_name(doc: LineDict, key: str, what: str, out: Collector, *, example: str) -> str | None:
    """A DNS name (labels of letters, digits, ``-`` and ``_``), e.g. a selector or domain."""
    text = out.text(doc[key], doc.line_of(key), what=what)
    if text is not None and not _LABELS.fullmatch(text):
        out.add(doc.line_of(key), f"{what} must be a DNS name like {example}, not {shown(text)}")
        return None
    return text


def _existing_file(doc: LineDict, key: str, what: str, out: Collector, root: Path) -> Path | None:
    text = out.text(doc[key], doc.line_of(key), what=what)
    if text is None:
        return None
    path = root / Path(text).expanduser()
    if not path.is_file():
        out.add(
            doc.line_of(key),
            f"{what}: no such file {str(path)!r} (a path relative to the project directory, "
            "or an absolute one)",
        )
        return None
    return path
