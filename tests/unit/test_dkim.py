"""DkimSigner: signatures that verify, over the headers RFC 8058 needs signed."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from touchflow.config.delivery import DkimSettings
from touchflow.messages.compose import compose
from touchflow.messages.dkim import DkimError, DkimKeyError, DkimSigner
from touchflow.messages.render import RenderedMessage


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def dns_with(key: rsa.RSAPrivateKey) -> dict[bytes, bytes]:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {b"mail2026._domainkey.lumen.example.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)}


def verifies(signed: bytes, key: rsa.RSAPrivateKey) -> bool:
    records = dns_with(key)

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    return bool(dkim.verify(signed, dnsfunc=dnsfunc))


def marketing_message(*, reply_to: str | None = "care@lumen.example") -> bytes:
    message = compose(
        rendered=RenderedMessage(
            subject="20 % off this week", text="Hello Ana,\n\nsee you.\n", html=None, locale="en"
        ),
        key="monthly-sale:c1:2026-11",
        from_addr="Lumen Studio <hello@lumen.example>",
        to_addr="Ana <ana@example.org>",
        reply_to=reply_to,
        date=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        domain="lumen.example",
        list_unsubscribe=["https://lumen.example/unsubscribe?c=1", "mailto:unsub@lumen.example"],
        one_click=True,
    )
    return message.data


def signed_headers(signed: bytes) -> list[str]:
    header = signed.split(b"\r\n\r\n", 1)[0].decode()
    found = re.search(r"\bh=([^;]+);", header)
    assert found is not None
    return [name.strip() for name in re.sub(r"\s+", " ", found.group(1)).split(":")]


def test_a_signed_message_verifies_against_the_published_key(
    pem: bytes, key: rsa.RSAPrivateKey
) -> None:
    signer = DkimSigner("mail2026", "lumen.example", pem)
    original = marketing_message()

    signed = signer.sign(original)

    assert signed.startswith(b"DKIM-Signature: ")
    assert signed.endswith(original)  # the message itself is untouched
    assert b"\n" not in signed.replace(b"\r\n", b"")  # CRLF line ends only
    assert b"c=relaxed/relaxed" in signed
    assert verifies(signed, key)


def test_one_click_unsubscribe_headers_are_signed(pem: bytes) -> None:
    signed = DkimSigner("mail2026", "lumen.example", pem).sign(marketing_message())

    assert signed_headers(signed) == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "reply-to",
        "mime-version",
        "content-type",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ]


def test_headers_a_message_does_not_have_are_left_out(pem: bytes) -> None:
    signed = DkimSigner("mail2026", "lumen.example", pem).sign(marketing_message(reply_to=None))
    assert "reply-to" not in signed_headers(signed)


def test_a_changed_signed_header_no_longer_verifies(pem: bytes, key: rsa.RSAPrivateKey) -> None:
    signed = DkimSigner("mail2026", "lumen.example", pem).sign(marketing_message())
    tampered = signed.replace(b"Subject: 20 % off", b"Subject: 90 % off")
    assert tampered != signed
    assert not verifies(tampered, key)


def test_a_message_without_from_cannot_be_signed(pem: bytes) -> None:
    with pytest.raises(DkimError, match="without a From header"):
        DkimSigner("mail2026", "lumen.example", pem).sign(b"Subject: x\r\n\r\nbody\r\n")


def test_from_settings_reads_the_key_file(
    pem: bytes, key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(pem)
    settings = DkimSettings(selector="mail2026", domain="lumen.example", key_file=key_file)

    signer = DkimSigner.from_settings(settings)

    assert verifies(signer.sign(marketing_message()), key)
    assert repr(signer) == "DkimSigner(selector='mail2026', domain='lumen.example')"


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    settings = DkimSettings(selector="s", domain="lumen.example", key_file=missing)
    with pytest.raises(DkimKeyError) as caught:
        DkimSigner.from_settings(settings)
    assert (
        str(caught.value)
        == f"delivery.dkim.key_file: cannot read {missing}: No such file or directory"
    )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"SECRET-NOT-A-KEY\n", id="not-pem"),
        pytest.param(
            b"-----BEGIN RSA PRIVATE KEY-----\n"
            b"U0VDUkVULU5PVC1BLUtFWQ==\n"
            b"-----END RSA PRIVATE KEY-----\n",
            id="pem-but-not-rsa",
        ),
    ],
)
def test_a_file_that_is_not_a_key_is_named_without_its_content(
    tmp_path: Path, content: bytes
) -> None:
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(content)
    settings = DkimSettings(selector="s", domain="lumen.example", key_file=key_file)

    with pytest.raises(DkimKeyError) as caught:
        DkimSigner.from_settings(settings)

    text = str(caught.value)
    assert text.startswith(f"delivery.dkim.key_file {key_file}: ")
    assert "not an unencrypted RSA key in PEM format" in text
    assert "SECRET" not in text and "U0VDUkVU" not in text


def test_an_encrypted_key_is_refused(key: rsa.RSAPrivateKey) -> None:
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    with pytest.raises(DkimKeyError, match="unencrypted"):
        DkimSigner("s", "lumen.example", encrypted)


def test_a_pkcs8_key_works_too(key: rsa.RSAPrivateKey) -> None:
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signed = DkimSigner("mail2026", "lumen.example", pkcs8).sign(marketing_message())
    assert verifies(signed, key)
