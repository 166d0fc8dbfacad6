from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from touchflow.errors import HeaderInjectionError
from touchflow.messages.compose import Composed, ComposeError, compose, message_id_for
from touchflow.messages.render import RenderedMessage

DATE = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)
TEXT_ONLY = RenderedMessage(subject="Your appointment", text="See you!\n", html=None, locale="en")
UNSUB = [
    "mailto:unsubscribe+c42@shop.example?subject=unsubscribe",
    "https://shop.example/unsubscribe/" + "a" * 80,
]


def build(**overrides: Any) -> Composed:
    args: dict[str, Any] = {
        "rendered": TEXT_ONLY,
        "key": "appointment-reminder:c42:a-17:-1d",
        "from_addr": "Hair Studio <hello@shop.example>",
        "to_addr": "ann@example.com",
        "reply_to": None,
        "date": DATE,
        "domain": "shop.example",
    }
    args.update(overrides)
    return compose(**args)


def reparse(msg: Composed) -> EmailMessage:
    parsed = email.message_from_bytes(msg.data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def raw_headers(msg: Composed) -> str:
    return msg.data.split(b"\r\n\r\n", 1)[0].decode("ascii")


def test_message_id_is_derived_from_the_key() -> None:
    first = message_id_for("rule:c1:2024", "shop.example")
    assert first == message_id_for("rule:c1:2024", "shop.example")
    assert first != message_id_for("rule:c1:2025", "shop.example")
    assert re.fullmatch(r"<[0-9a-f]{32}@shop\.example>", first)
    assert build(key="k").message["Message-ID"] == message_id_for("k", "shop.example")
    assert build(key="k").message["Message-ID"] != build(key="k2").message["Message-ID"]


def test_text_only_message() -> None:
    parsed = reparse(build())
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content() == "See you!\r\n"  # the body is sent with CRLF too
    assert parsed["Date"] == "Wed, 01 May 2024 14:30:00 +0000"
    assert parsed["To"] == "ann@example.com"
    assert "Reply-To" not in parsed and "List-Unsubscribe" not in parsed


def test_date_keeps_the_given_offset() -> None:
    tz = timezone(timedelta(hours=2))
    assert build(date=DATE.astimezone(tz)).message["Date"] == "Wed, 01 May 2024 16:30:00 +0200"
    with pytest.raises(ComposeError, match="naive"):
        build(date=datetime(2024, 5, 1, 14, 30))


def test_lines_end_in_crlf() -> None:
    data = build().data
    assert b"\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_multipart_alternative_text_first() -> None:
    rendered = RenderedMessage(subject="s", text="plain\n", html="<p>rich</p>\n", locale="en")
    parsed = reparse(build(rendered=rendered))
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content() for p in parts] == ["plain\r\n", "<p>rich</p>\r\n"]
    assert all("MIME-Version" not in p for p in parts)


def test_non_ascii_subject_and_display_name_are_rfc2047_encoded() -> None:
    rendered = RenderedMessage(
        subject="Grüße, Anna — Ihr Termin", text="Hallo\n", html=None, locale="de"
    )
    msg = build(
        rendered=rendered,
        from_addr="Friseur Müller <hallo@shop.example>",
        to_addr="Anna Schön <anna@example.com>",
    )
    head = raw_headers(msg)  # decoding as ASCII proves nothing raw is left
    assert "Subject: =?utf-8?" in head
    assert "From: Friseur =?utf-8?q?M=C3=BCller?= <hallo@shop.example>" in head
    parsed = reparse(msg)
    assert parsed["Subject"] == "Grüße, Anna — Ihr Termin"
    assert parsed["From"] == "Friseur Müller <hallo@shop.example>"
    assert parsed["To"].addresses[0].display_name == "Anna Schön"


def test_idn_domain_goes_out_as_punycode() -> None:
    assert build(to_addr="anna@bücher.example").message["To"] == "anna@xn--bcher-kva.example"


def test_reply_to() -> None:
    assert reparse(build(reply_to="help@shop.example"))["Reply-To"] == "help@shop.example"


def test_list_unsubscribe_one_click() -> None:
    msg = build(list_unsubscribe=UNSUB, one_click=True)
    head = raw_headers(msg)
    # Long URIs must stay readable, not become RFC 2047 encoded words.
    assert f"List-Unsubscribe: <{UNSUB[0]}>,\r\n <{UNSUB[1]}>\r\n" in head
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head
    parsed = reparse(msg)
    assert parsed["List-Unsubscribe"] == f"<{UNSUB[0]}>, <{UNSUB[1]}>"


def test_list_unsubscribe_without_one_click() -> None:
    head = raw_headers(build(list_unsubscribe=UNSUB[:1]))
    assert f"List-Unsubscribe: <{UNSUB[0]}>\r\n" in head
    assert "List-Unsubscribe-Post" not in head


def test_one_click_needs_an_https_uri() -> None:
    with pytest.raises(ComposeError, match="https"):
        build(list_unsubscribe=UNSUB[:1], one_click=True)
    with pytest.raises(ComposeError, match="mailto"):
        build(list_unsubscribe=["javascript:alert(1)"])


def test_extra_headers() -> None:
    assert build(extra_headers={"X-Campaign": "spring"}).message["X-Campaign"] == "spring"
    with pytest.raises(ComposeError, match="replace"):
        build(extra_headers={"bcc": "all@example.com"})


INJECTIONS = [
    "\r\nBcc: victim@example.com",
    "\nBcc: victim@example.com",
    "\rBcc: victim@example.com",
    "\x00",
    "\u2028Bcc: victim@example.com",
    "\x85Bcc: victim@example.com",
]


@pytest.mark.parametrize("evil", INJECTIONS)
@pytest.mark.parametrize(
    ("header", "field"),
    [
        (
            "Subject",
            lambda e: {
                "rendered": RenderedMessage(subject="Hi" + e, text="t", html=None, locale="en")
            },
        ),
        ("To", lambda e: {"to_addr": "ann@example.com" + e}),
        ("To", lambda e: {"to_addr": f"Ann{e} <ann@example.com>"}),
        ("From", lambda e: {"from_addr": f"Shop{e} <hello@shop.example>"}),
        ("Reply-To", lambda e: {"reply_to": "help@shop.example" + e}),
        ("X-Campaign", lambda e: {"extra_headers": {"X-Campaign": "spring" + e}}),
        ("List-Unsubscribe", lambda e: {"list_unsubscribe": ["https://shop.example/u" + e]}),
        ("Message-ID", lambda e: {"domain": "shop.example" + e}),
    ],
)
def test_header_injection_is_refused(header: str, field: Any, evil: str) -> None:
    with pytest.raises(HeaderInjectionError, match=f"^{header}: "):
        build(**field(evil))


@pytest.mark.parametrize(
    "name", ["X-Evil\r\nBcc", "X Evil", "X-Evil:", "Bcc: victim@example.com\r\nX-A"]
)
def test_bad_extra_header_names_are_refused(name: str) -> None:
    with pytest.raises(HeaderInjectionError, match="not a valid header name"):
        build(extra_headers={name: "x"})


def test_uri_cannot_smuggle_a_second_uri() -> None:
    with pytest.raises(HeaderInjectionError, match="List-Unsubscribe"):
        build(list_unsubscribe=["https://shop.example/u>, <https://evil.example/"])


@pytest.mark.parametrize(
    "to", ["ann@example.com, bob@example.com", "not an address", "", "@example.com", "ann@"]
)
def test_to_must_be_exactly_one_address(to: str) -> None:
    with pytest.raises(ComposeError, match=r"^To: "):
        build(to_addr=to)


def test_no_injected_header_can_appear() -> None:
    # Whatever the input, a message that gets built has exactly our headers.
    msg = build(
        rendered=RenderedMessage(subject="a: b\tc", text="Bcc: x@y.z\r\n", html=None, locale="en")
    )
    parsed = reparse(msg)
    assert sorted(parsed.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding",
        ]
    )
    assert parsed["Subject"] == "a: b\tc"
