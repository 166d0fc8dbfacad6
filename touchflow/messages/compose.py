"""RFC 5322 messages from rendered templates, for the preview and the daemon.

Every header value is checked before anything is built: a CR, LF, NUL (or
any other character that ends a line or is a control) raises
``HeaderInjectionError`` naming the header. Values are never silently
cleaned: a customer name holding a line break is data the caller must look at,
so the touchpoint is held with a reason instead of sent with a guess.

The Message-ID is derived from the touchpoint key, so a resend after a crash
carries the same id and receivers can deduplicate it.

The bytes are written by ``touchflow.messages.mime`` rather than ``EmailMessage``, whose
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
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime
from types import MappingProxyType

from touchflow.errors import HeaderInjectionError
from touchflow.headers import BARE_ADDRESS as BARE_ADDRESS
from touchflow.headers import ComposeError as ComposeError
from touchflow.headers import address, check_unsubscribe, check_value
from touchflow.messages import mime
from touchflow.messages.render import RenderedMessage

_HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")  # RFC 5322 ftext, short enough for one line
_DOMAIN = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
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
        "list-id",
        "auto-submitted",
    }
)
# RFC 3834: what a message is when no person sent it (a reply to a message, or neither).
AUTO_SUBMITTED = ("auto-generated", "auto-replied")
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
# RFC 2919 dot-atom-text, within one header line.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LIST_ID = re.compile(rf"(?=.{{1,200}}$){_ATEXT}(?:\.{_ATEXT})+")


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
    check_value("Message-ID", domain)
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
    list_id: str | None = None,
    auto_submitted: str | None = None,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
) -> Composed:
    """Build the message; raises HeaderInjectionError or ComposeError before building any.

    ``list_id`` is the ``List-Id`` (RFC 2919) without its angle brackets, e.g.
    ``birthday-card.shop.example``; ``auto_submitted`` one of ``AUTO_SUBMITTED``.
    The bytes depend only on the arguments: the multipart boundary comes from the
    key, so a resend after a crash is byte for byte the same message.
    """
    if date.utcoffset() is None:
        raise ComposeError("Date: a naive datetime has no offset; pass an aware one")
    head = [_address_header("From", from_addr), _address_header("To", to_addr)]
    if reply_to is not None:
        head.append(_address_header("Reply-To", reply_to))
    check_value("Subject", rendered.subject)
    message_id = message_id_for(key, domain)
    head += [
        mime.header("Subject", mime.unstructured(rendered.subject)),
        _date_header(date),
        f"Message-ID: {message_id}\r\n",
        *_unsubscribe_headers(list_unsubscribe, one_click=one_click),
        *_automatic_headers(list_id, auto_submitted),
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


@functools.lru_cache(maxsize=1024)
def _address_header(header: str, value: str) -> str:
    """The folded header line; cached, as From and Reply-To repeat in every message."""
    return mime.header(header, mime.address(*address(header, value)))


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


@functools.lru_cache(maxsize=256)  # one per rule: every message of a batch asks again
def list_id_for(rule_id: str, from_addr: str) -> str | None:
    """The List-Id of a rule's messages: ``<rule id>.<the sender's domain>``, so each
    touchpoint is a list a reader can filter, and the sender's domain owns the name.
    None where the domain cannot be written in ASCII (then no List-Id is sent)."""
    domain = address("From", from_addr)[1].rpartition("@")[2].lower()
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    list_id = f"{rule_id}.{ascii_domain}"
    return list_id if _LIST_ID.fullmatch(list_id) else None


def _automatic_headers(list_id: str | None, auto_submitted: str | None) -> list[str]:
    lines = []
    if list_id is not None:
        if not _LIST_ID.fullmatch(list_id):
            raise ComposeError(f"List-Id: {list_id!r} is not a list id like rule.example.com")
        lines.append(f"List-Id: <{list_id}>\r\n")
    if auto_submitted is not None:
        if auto_submitted not in AUTO_SUBMITTED:
            raise ComposeError(f"Auto-Submitted: {auto_submitted!r} is not one of {AUTO_SUBMITTED}")
        lines.append(f"Auto-Submitted: {auto_submitted}\r\n")
    return lines


def _extra_headers(extra: Mapping[str, str]) -> list[str]:
    for name, value in extra.items():
        if not _HEADER_NAME.fullmatch(name):
            raise HeaderInjectionError(f"extra header name {name!r} is not a valid header name")
        if name.lower() in _OWN_HEADERS:
            raise ComposeError(f"extra header {name} would replace one touchflow sets itself")
        check_value(name, value)
    return [mime.header(name, mime.unstructured(value)) for name, value in extra.items()]
