"""What a header value may hold: one address, a bare unsubscribe URI, no line breaks.

Checked before any message is built, and when touchflow.yaml is read: a CR, LF, NUL
(or any other character that ends a line or is a control) raises
``HeaderInjectionError`` naming the header. Values are never silently cleaned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.headerregistry import Address
from email.utils import getaddresses

from touchflow.errors import HeaderInjectionError, TouchflowError

# Everything str.splitlines() breaks on, NUL and the other C0/C1 controls but TAB;
# and unpaired surrogates, which cannot be encoded at all.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
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


class ComposeError(TouchflowError, ValueError):
    """A value cannot make a well-formed message: a bad address, URI or header name."""


def check_value(header: str, value: str) -> None:
    bad = _FORBIDDEN.search(value)
    if bad is not None:
        char = f"U+{ord(bad.group()):04X}"
        if "\ud800" <= bad.group() <= "\udfff":
            raise ComposeError(f"{header}: the value holds an unpaired surrogate ({char})")
        raise HeaderInjectionError(
            f"{header}: the value holds a line break or control character ({char}); "
            "refusing to build the message"
        )


def address(header: str, value: str) -> tuple[str, str]:
    """``(display name, addr-spec)`` of the one address ``value`` holds, or raise."""
    simple = _SIMPLE_ADDRESS.fullmatch(value)
    if simple is not None and len(spec := simple["spec"] or simple["bare"]) <= _MAX_ADDR_SPEC:
        # Only values the full checks accept unchanged match (a property test
        # compares both), and the common case skips their two address parsers.
        return simple["name"] or "", spec
    return _checked_address(header, value)


def _checked_address(header: str, value: str) -> tuple[str, str]:
    check_value(header, value)
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


def check_address(header: str, value: str) -> None:
    """Raise ``ComposeError``/``HeaderInjectionError`` unless ``value`` is one sendable address."""
    address(header, value)


def check_unsubscribe(uris: Sequence[str]) -> None:
    """Raise unless every URI is a bare mailto:/http(s):// URI fit for List-Unsubscribe."""
    for uri in uris:
        check_value("List-Unsubscribe", uri)
        if not uri.isascii() or _NOT_BARE.search(uri):
            # Brackets or spaces would end the URI early and let a second one in.
            raise HeaderInjectionError(f"List-Unsubscribe: {uri!r} is not a bare URI")
        if not uri.lower().startswith(_URI_SCHEMES):
            raise ComposeError(f"List-Unsubscribe: {uri!r} is neither mailto: nor http(s)://")
        if len(uri) > _MAX_URI:
            raise ComposeError(f"List-Unsubscribe: a URI longer than {_MAX_URI} characters")
