"""DKIM signatures (RFC 6376) over composed messages, with dkimpy.

The signature covers the headers a receiver shows or acts on, relaxed/relaxed
canonicalization (survives the header refolding and whitespace changes relays
make). RFC 8058 requires List-Unsubscribe and List-Unsubscribe-Post to be
signed for one-click unsubscribe to be honoured, so they are whenever present.

Signing is CPU work (an RSA operation, a few milliseconds for a 2048-bit key):
a caller on the event loop can run ``sign`` through ``asyncio.to_thread``.
The private key is never printed: not in errors, not in ``repr``.
"""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import compat32

# dkimpy is imported where it is used: with dnspython it costs ~0.1 s, and most runs
# (every `run --once` without delivery.dkim) never sign anything.
from touchflow.config.delivery import DkimSettings
from touchflow.errors import TouchflowError, UserError

# In this order in h=; only those present in the message are signed.
SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)
_MIN_BITS = 1024  # receivers ignore shorter keys (RFC 8301)


class DkimKeyError(UserError):
    """The DKIM private key cannot be read or used."""


class DkimError(TouchflowError):
    """A message cannot be signed (e.g. it has no From header)."""


class DkimSigner:
    """Signs messages for one selector and domain with one RSA key."""

    def __init__(self, selector: str, domain: str, private_key_pem: bytes) -> None:
        bits = _key_bits(private_key_pem)
        if bits is None:
            raise DkimKeyError(
                "the DKIM private key is not an unencrypted RSA key in PEM format "
                "(PKCS#1 or PKCS#8, e.g. from `openssl genrsa 2048`)"
            )
        if bits < _MIN_BITS:
            raise DkimKeyError(
                f"the DKIM private key has only {bits} bits; receivers ignore keys under "
                f"{_MIN_BITS} bits: make a 2048-bit one"
            )
        self.selector = selector
        self.domain = domain
        self._key = private_key_pem

    @classmethod
    def from_settings(cls, settings: DkimSettings) -> DkimSigner:
        """Read ``settings.key_file``; ``DkimKeyError`` names the file, never its content."""
        path = settings.key_file
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise DkimKeyError(
                f"delivery.dkim.key_file: cannot read {path}: {exc.strerror or exc}"
            ) from None
        try:
            return cls(settings.selector, settings.domain, pem)
        except DkimKeyError as exc:
            raise DkimKeyError(f"delivery.dkim.key_file {path}: {exc}") from None

    def __repr__(self) -> str:
        return f"DkimSigner(selector={self.selector!r}, domain={self.domain!r})"

    def sign(self, data: bytes) -> bytes:
        """``data`` with a ``DKIM-Signature:`` header (CRLF line ends) put in front."""
        present = {name.lower() for name in BytesHeaderParser(policy=compat32).parsebytes(data)}
        if "from" not in present:
            raise DkimError("cannot DKIM-sign a message without a From header")
        include = [
            name.lower().encode("ascii") for name in SIGNED_HEADERS if name.lower() in present
        ]
        import dkim  # type: ignore[import-untyped]  # dkimpy ships no type information

        try:
            signature = dkim.sign(
                data,
                self.selector.encode("ascii"),
                self.domain.encode("ascii"),
                self._key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=include,
                linesep=b"\r\n",
            )
        except dkim.DKIMException as exc:
            raise DkimError(f"cannot DKIM-sign the message: {exc}") from None
        if not isinstance(signature, bytes):
            raise DkimError("cannot DKIM-sign the message: dkimpy returned no signature")
        return signature + data


def _key_bits(pem: bytes) -> int | None:
    """The modulus size of an RSA private key in PEM, or None if it is not one."""
    from dkim.crypto import parse_pem_private_key  # type: ignore[import-untyped]

    try:
        key = parse_pem_private_key(pem)
        modulus = key["modulus"]
    except Exception:  # dkimpy's parser raises several kinds; any of them means "not a key"
        return None
    return modulus.bit_length() if isinstance(modulus, int) else None
