"""RFC 5322 messages from rendered templates, for the preview and the daemon.

Every header value is checked before anything is built: a CR, LF, NUL (or
any other character that ends a line or is a control) raises
``HeaderInjectionError`` naming the header. Values are never silently
cleaned: a customer name holding a line break is data the caller must look at,
so the touchpoint is held with a reason instead of sent with a guess.

The Message-ID is derived from the touchpoint key, so a resend after a crash
carries the same id and receivers can deduplicate it.

The bytes are written by ``touchflow.mime`` rather than ``EmailMessage``, whose
header parsers cost more than everything else in sending (docs/decisions.md).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, getaddresses
from types import MappingProxyType

from touchflow import mime
from touchflow.errors import HeaderInjectionError, TouchflowError
from touchflow.render import RenderedMessage

# Everything str.splitlines() breaks on, NUL and the other C0/C1 controls but TAB;
# and unpaired surrogates, which cannot be encoded at all.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")  # RFC 5322 ftext, short enough for one line
_DOMAIN = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_URI_SCHEMES = ("mailto:", "https://", "http://")
_NOT_BARE = re.compile(r'[\s<>"]')
_MAX_URI = 900  # with "List-Unsubscribe: <" and ">," the line stays within 998
_MAX_ADDR_SPEC = 254  # RFC 5321: a path is at most 256 octets with its brackets
# "Name <local@domain>" or "local@domain" at its plainest: words of letters and digits
# (any script) joined by one space, hyphen or apostrophe; a dot-atom local part; an
# ASCII domain of 1-63 character labels (which IDNA leaves as it is).
_ATOMS = r"[A-Za-z0-9_%+'-]+(?:\.[A-Za-z0-9_%+'-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SPEC = rf"{_ATOMS}@{_LABEL}(?:\.{_LABEL})*"
_SIMPLE_ADDRESS = re.compile(
    rf"(?P<name>[^\W_]+(?:[ '-][^\W_]+)*) <(?P<spec>{_SPEC})>|(?P<bare>{_SPEC})"
)
# Just the address, as SMTP's MAIL FROM and RCPT TO carry it: ``email.utils.parseaddr``
# returns such a value unchanged (a property test checks), so callers may skip it.
BARE_ADDRESS = re.compile(_SPEC)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Composed:
    """A message as it is sent: CRLF line ends, ASCII headers, and its Message-ID."""

    data: bytes
    message_id: str

    @property
    def message(self) -> EmailMessage:
        """The bytes parsed back with ``policy.default``, for display (parsed on each access)."""
        parsed = message_from_bytes(self.data, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed


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
) -> Composed:
    """Build the message; raises HeaderInjectionError or ComposeError before building any.

    The bytes depend only on the arguments: the multipart boundary comes from the
    key, so a resend after a crash is byte for byte the same message.
    """
    if date.utcoffset() is None:
        raise ComposeError("Date: a naive datetime has no offset; pass an aware one")
    head = [_address_header("From", from_addr), _address_header("To", to_addr)]
    if reply_to is not None:
        head.append(_address_header("Reply-To", reply_to))
    _check("Subject", rendered.subject)
    message_id = message_id_for(key, domain)
    head += [
        mime.header("Subject", mime.unstructured(rendered.subject)),
        _date_header(date),
        f"Message-ID: {message_id}\r\n",
        *_unsubscribe_headers(list_unsubscribe, one_click=one_click),
        *_extra_headers(extra_headers),
    ]
    boundary = "=_tf" + hashlib.sha256(f"boundary:{key}".encode()).hexdigest()[:32]
    try:
        data = mime.message("".join(head), rendered.text, rendered.html, boundary=boundary)
    except UnicodeEncodeError as exc:
        char = f"U+{ord(exc.object[exc.start]):04X}"
        raise ComposeError(f"body: the text holds an unpaired surrogate ({char})") from None
    return Composed(data=data, message_id=message_id)


def _date_header(date: datetime) -> str:
    """The Date line; cached, as a dispatched batch shares one date."""
    # Keyed by the offset too: the same instant in another zone is equal, but not written alike.
    return _date_line(date, date.utcoffset())


@functools.lru_cache(maxsize=64)
def _date_line(date: datetime, offset: timedelta | None) -> str:
    return f"Date: {format_datetime(date)}\r\n"


def _check(header: str, value: str) -> None:
    bad = _FORBIDDEN.search(value)
    if bad is not None:
        char = f"U+{ord(bad.group()):04X}"
        if "\ud800" <= bad.group() <= "\udfff":
            raise ComposeError(f"{header}: the value holds an unpaired surrogate ({char})")
        raise HeaderInjectionError(
            f"{header}: the value holds a line break or control character ({char}); "
            "refusing to build the message"
        )


def _address(header: str, value: str) -> tuple[str, str]:
    """``(display name, addr-spec)`` of the one address ``value`` holds, or raise."""
    simple = _SIMPLE_ADDRESS.fullmatch(value)
    if simple is not None and len(spec := simple["spec"] or simple["bare"]) <= _MAX_ADDR_SPEC:
        # Only values the full checks accept unchanged match (a property test
        # compares both), and the common case skips their two address parsers.
        return simple["name"] or "", spec
    return _checked_address(header, value)


def _checked_address(header: str, value: str) -> tuple[str, str]:
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
    if len(address.addr_spec) > _MAX_ADDR_SPEC:
        raise ComposeError(f"{header}: {spec[:40]!r}... is longer than an address may be")
    # Round trip: what we write must parse back to the same single address.
    if getaddresses([str(address)]) != [(address.display_name, address.addr_spec)]:
        raise ComposeError(f"{header}: {value!r} does not survive formatting as an address")
    return address.display_name, address.addr_spec


@functools.lru_cache(maxsize=1024)
def _address_header(header: str, value: str) -> str:
    """The folded header line; cached, as From and Reply-To repeat in every message."""
    return mime.header(header, mime.address(*_address(header, value)))


def check_address(header: str, value: str) -> None:
    """Raise ``ComposeError``/``HeaderInjectionError`` unless ``value`` is one sendable address."""
    _address(header, value)


def check_unsubscribe(uris: Sequence[str]) -> None:
    """Raise unless every URI is a bare mailto:/http(s):// URI fit for List-Unsubscribe."""
    for uri in uris:
        _check("List-Unsubscribe", uri)
        if not uri.isascii() or _NOT_BARE.search(uri):
            # Brackets or spaces would end the URI early and let a second one in.
            raise HeaderInjectionError(f"List-Unsubscribe: {uri!r} is not a bare URI")
        if not uri.lower().startswith(_URI_SCHEMES):
            raise ComposeError(f"List-Unsubscribe: {uri!r} is neither mailto: nor http(s)://")
        if len(uri) > _MAX_URI:
            raise ComposeError(f"List-Unsubscribe: a URI longer than {_MAX_URI} characters")


def _unsubscribe_headers(uris: Sequence[str], *, one_click: bool) -> list[str]:
    check_unsubscribe(uris)
    if one_click and not any(u.lower().startswith("https://") for u in uris):
        raise ComposeError("List-Unsubscribe-Post: one-click unsubscribe needs an https:// URI")
    if not uris:
        return []
    # Folded between URIs only: mail clients do not decode encoded words here.
    value = mime.list_header("List-Unsubscribe", [f"<{u}>" for u in uris])
    post = [mime.header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
    return [value, *post] if one_click else [value]


def _extra_headers(extra: Mapping[str, str]) -> list[str]:
    for name, value in extra.items():
        if not _HEADER_NAME.fullmatch(name):
            raise HeaderInjectionError(f"extra header name {name!r} is not a valid header name")
        if name.lower() in _OWN_HEADERS:
            raise ComposeError(f"extra header {name} would replace one touchflow sets itself")
        _check(name, value)
    return [mime.header(name, mime.unstructured(value)) for name, value in extra.items()]
