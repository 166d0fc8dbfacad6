"""One-click unsubscribe links (RFC 8058): a signed token naming an address and a category.

A token is ``<payload>.<mac>``, both base64url: the payload is the category and
the address, the MAC is HMAC-SHA256 over it with the secret from
``TOUCHFLOW_UNSUBSCRIBE_SECRET``. The daemon needs no table of issued links,
and a link for one address cannot be turned into a link for another. The
address can be read from the link; it is in the message the link came with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from email.utils import parseaddr

from touchflow.errors import TouchflowError
from touchflow.models import Category

PATH = "/v1/unsubscribe/"
_CONTEXT = b"touchflow unsubscribe v1\x00"  # a MAC for this purpose only
_MAX_TOKEN = 1000
# Signs the links of a preview run without the secret: same shape, never valid.


class TokenError(TouchflowError, ValueError):
    """An unsubscribe token that was not issued by us (or is damaged)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe:
    """What a valid token asks: stop ``category`` messages to ``address``."""

    address: str  # lower-cased, as suppressions store it
    category: Category


def normalized(address: str) -> str:
    """The bare address of ``Name <a@b>`` or ``a@b``, stripped and lower-cased."""
    return parseaddr(address)[1].strip().lower()


def make_token(key: str, address: str, category: Category) -> str:
    payload = f"{category.value}\n{normalized(address)}".encode()
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def read_token(key: str, token: str) -> Unsubscribe:
    """The request a token carries; ``TokenError`` unless we signed it, unchanged."""
    if len(token) > _MAX_TOKEN or token.count(".") != 1:
        raise TokenError("this unsubscribe link is not one of ours (damaged or cut off?)")
    encoded, mac = token.split(".")
    try:
        payload, given = _unb64(encoded), _unb64(mac)
    except (binascii.Error, ValueError):
        raise TokenError("this unsubscribe link is not one of ours (damaged or cut off?)") from None
    if not hmac.compare_digest(_mac(key, payload), given):
        raise TokenError("this unsubscribe link is not valid (its signature does not match)")
    category_text, _, address = payload.decode("utf-8", "replace").partition("\n")
    if category_text != Category.MARKETING.value or "@" not in address:
        # Signed by us, but never for this: transactional messages carry no unsubscribe link.
        raise TokenError(f"unsubscribing from {category_text!r} messages is not possible")
    return Unsubscribe(address=address, category=Category.MARKETING)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsubscribeLinks:
    """Makes ``{public_url}/v1/unsubscribe/{token}`` for a recipient and category."""

    public_url: str  # without a trailing slash
    key: str = field(repr=False)

    def url(self, to: str, category: Category) -> str:
        return f"{self.public_url}{PATH}{make_token(self.key, to, category)}"


def _mac(key: str, payload: bytes) -> bytes:
    return hmac.new(key.encode(), _CONTEXT + payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict: only the unpadded encoding ``_b64`` writes decodes (one token, one spelling)."""
    if not text.isascii():
        raise ValueError("not base64")
    data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if _b64(data) != text:
        raise ValueError("not in canonical form")
    return data
