"""RFC 5322 messages from rendered templates, for the preview and the daemon.

Every header value is checked before anything is built: a CR, LF, NUL (or
any other character that ends a line or is a control) raises
``HeaderInjectionError`` naming the header. Values are never silently
cleaned: a customer name holding a line break is data the caller must look at,
so the touchpoint is held with a reason instead of sent with a guess.

The Message-ID is derived from the touchpoint key, so a resend after a crash
carries the same id and receivers can deduplicate it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime, getaddresses
from types import MappingProxyType

from touchflow.errors import HeaderInjectionError, TouchflowError
from touchflow.render import RenderedMessage

# Everything str.splitlines() breaks on, NUL and the other C0/C1 controls but TAB.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext
_DOMAIN = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_URI_SCHEMES = ("mailto:", "https://", "http://")
# Headers compose() sets itself; an extra header must not replace or double them.
_OWN_HEADERS = frozenset(
    {
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "list-unsubscribe",
        "list-unsubscribe-post",
    }
)
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class ComposeError(TouchflowError, ValueError):
    """A value cannot make a well-formed message: a bad address, URI or header name."""


def message_id_for(key: str, domain: str) -> str:
    """``<sha256(key)[:32]@domain>``: the same touchpoint always gets the same id."""
    _check("Message-ID", domain)
    if not _DOMAIN.fullmatch(domain):
        raise ComposeError(f"Message-ID: {domain!r} is not a domain name")
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


def compose(
    *,
    rendered: RenderedMessage,
    key: str,
    from_addr: str,
    to_addr: str,
    reply_to: str | None,
    date: datetime,
    domain: str,
    list_unsubscribe: Sequence[str] = (),
    one_click: bool = False,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
) -> EmailMessage:
    """Build the message; raises HeaderInjectionError or ComposeError before building any."""
    if date.utcoffset() is None:
        raise ComposeError("Date: a naive datetime has no offset; pass an aware one")
    headers: list[tuple[str, object]] = [
        ("From", _address("From", from_addr)),
        ("To", _address("To", to_addr)),
    ]
    if reply_to is not None:
        headers.append(("Reply-To", _address("Reply-To", reply_to)))
    _check("Subject", rendered.subject)
    headers += [
        ("Subject", rendered.subject),
        ("Date", format_datetime(date)),
        ("Message-ID", message_id_for(key, domain)),
        *_unsubscribe_headers(list_unsubscribe, one_click=one_click),
        *_extra_headers(extra_headers),
    ]
    msg = EmailMessage(policy=SMTP)
    for name, value in headers:
        msg[name] = value
    msg.set_content(rendered.text)
    if rendered.html is not None:
        # Built by hand: add_alternative() leaves a stray MIME-Version in the part.
        msg.make_alternative()
        html = EmailMessage(policy=SMTP)
        html.set_content(rendered.html, subtype="html")
        del html["MIME-Version"]
        msg.attach(html)
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    """The message as sent: CRLF line ends, non-ASCII headers RFC 2047 encoded."""
    return msg.as_bytes(policy=SMTP)


def _check(header: str, value: str) -> None:
    bad = _FORBIDDEN.search(value)
    if bad is not None:
        char = f"U+{ord(bad.group()):04X}"
        raise HeaderInjectionError(
            f"{header}: the value holds a line break or control character ({char}); "
            "refusing to build the message"
        )


def _address(header: str, value: str) -> Address:
    _check(header, value)
    parsed = getaddresses([value])
    if len(parsed) != 1 or not parsed[0][1]:
        raise ComposeError(f"{header}: expected exactly one address, got {value!r}")
    name, spec = parsed[0]
    local, at, domain = spec.rpartition("@")
    if not (local and at and domain):
        raise ComposeError(f"{header}: {spec!r} is not an address like name@example.com")
    try:
        # Internationalized domains go out as punycode; local parts would need SMTPUTF8.
        domain = domain.encode("idna").decode("ascii")
        if not local.isascii():
            raise ValueError("a non-ASCII local part needs SMTPUTF8")
        address = Address(display_name=name, addr_spec=f"{local}@{domain}")
    except (UnicodeError, ValueError, IndexError) as exc:
        raise ComposeError(f"{header}: {spec!r} is not a valid address ({exc})") from None
    # Round trip: what we write must parse back to the same single address.
    if getaddresses([str(address)]) != [(address.display_name, address.addr_spec)]:
        raise ComposeError(f"{header}: {value!r} does not survive formatting as an address")
    return address


def check_address(header: str, value: str) -> None:
    """Raise ``ComposeError``/``HeaderInjectionError`` unless ``value`` is one sendable address."""
    _address(header, value)


def check_unsubscribe(uris: Sequence[str]) -> None:
    """Raise unless every URI is a bare mailto:/http(s):// URI fit for List-Unsubscribe."""
    for uri in uris:
        _check("List-Unsubscribe", uri)
        if not uri.isascii() or re.search(r"[\s<>\"]", uri):
            # Brackets or spaces would end the URI early and let a second one in.
            raise HeaderInjectionError(f"List-Unsubscribe: {uri!r} is not a bare URI")
        if not uri.lower().startswith(_URI_SCHEMES):
            raise ComposeError(f"List-Unsubscribe: {uri!r} is neither mailto: nor http(s)://")


def _unsubscribe_headers(uris: Sequence[str], *, one_click: bool) -> list[tuple[str, object]]:
    check_unsubscribe(uris)
    if one_click and not any(u.lower().startswith("https://") for u in uris):
        raise ComposeError("List-Unsubscribe-Post: one-click unsubscribe needs an https:// URI")
    if not uris:
        return []
    value = _Verbatim("List-Unsubscribe", ", ".join(f"<{u}>" for u in uris))
    post = [("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")] if one_click else []
    return [("List-Unsubscribe", value), *post]


def _extra_headers(extra: Mapping[str, str]) -> list[tuple[str, object]]:
    for name, value in extra.items():
        if not _HEADER_NAME.fullmatch(name):
            raise HeaderInjectionError(f"extra header name {name!r} is not a valid header name")
        if name.lower() in _OWN_HEADERS:
            raise ComposeError(f"extra header {name} would replace one touchflow sets itself")
        _check(name, value)
    return list(extra.items())


class _Verbatim(str):
    """A header value the policy must not re-encode.

    The SMTP policy turns any unstructured value longer than a line into RFC 2047
    encoded words, which mail clients do not decode in List-Unsubscribe: the
    URIs would be lost. A value with a ``name`` counts as a header object
    (email.policy docs), so it is folded by us, between URIs only.
    """

    name: str

    def __new__(cls, name: str, value: str) -> _Verbatim:
        self = super().__new__(cls, value)
        self.name = name
        return self

    def fold(self, *, policy: Policy) -> str:
        linesep = policy.linesep
        if len(self.name) + 2 + len(self) <= 78:
            return f"{self.name}: {self}{linesep}"
        return f"{self.name}: {self.replace(', ', f',{linesep} ')}{linesep}"
