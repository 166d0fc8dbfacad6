"""The composer's bytes: clean on the wire, and read back as what was meant.

Property tests over generated names, subjects and bodies (emoji, CJK, long lines,
lines starting with "." or "From ", trailing spaces, empty HTML) check that the
hand-built bytes parse back with ``policy.default`` to the values given, and that
the stdlib's ``EmailMessage`` path reads the same message from the same input.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from touchflow.headers import _SIMPLE_ADDRESS, ComposeError, _checked_address
from touchflow.headers import address as _address
from touchflow.messages.compose import Composed, compose
from touchflow.messages.mime import encoded_words, phrase
from touchflow.messages.render import RenderedMessage

# Characters compose() refuses in headers (line breaks, controls, surrogates).
FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
SAMPLES = "Müller Grüße Åsa Çelik Øre ñ 山田 太郎 東京 こんにちは 😀 🎉 👩‍👩‍👧 — … « » „ “"
ASCII = 'Ann Lee O\'Brien "Bob" (c) a,b x.y =? ?= _ = \\ : ; < > @ [ ]'


def header_text(*, min_size: int = 0, max_size: int) -> st.SearchStrategy[str]:
    """Header-safe text: real words and punctuation, any printable character, tabs."""
    pieces = st.sampled_from(
        [*(SAMPLES + " " + ASCII).split(" "), " ", "  ", "\t", "=?utf-8?q?x?="]
    )
    anything = st.characters(blacklist_categories=("Cs", "Cc")).filter(
        lambda c: not FORBIDDEN.match(c)
    )
    return (
        st.lists(st.one_of(pieces, anything), max_size=max_size)
        .map("".join)
        .filter(lambda s: min_size <= len(s) and not FORBIDDEN.search(s))
    )


body_lines = st.one_of(
    st.sampled_from(
        [".", "..", ". leading dot", "From here on", "trailing  ", "\t", "", "=_tf", "--x"]
    ),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=120),
    st.text(st.sampled_from("aé漢😀 "), min_size=80, max_size=1500),  # long lines
)
bodies = st.lists(body_lines, max_size=12).flatmap(
    lambda lines: st.sampled_from(["\n", "\r\n", "\r"]).map(lambda sep: sep.join(lines))
)
# Display names within one encoded word: longer runs are covered by a test of their own.
names = header_text(max_size=10).filter(lambda s: len(s.encode()) <= 40)
locals_ = st.sampled_from(["ann", "bob.lee", "c+tag", "x_y", "o'neil"])
domains = st.sampled_from(["example.com", "bücher.example", "例え.jp", "shop.example"])
UNSUBSCRIBE = [
    (),
    ("mailto:unsubscribe+c42@shop.example?subject=unsubscribe",),
    ("https://shop.example/u/" + "a" * 80, "mailto:u@shop.example"),
]


@dataclass(frozen=True)
class Case:
    args: dict[str, Any]

    @property
    def rendered(self) -> RenderedMessage:
        rendered = self.args["rendered"]
        assert isinstance(rendered, RenderedMessage)
        return rendered


@st.composite
def cases(draw: st.DrawFn) -> Case:
    to_name, from_name = draw(names), draw(names)
    to = str(Address(display_name=to_name, addr_spec=f"{draw(locals_)}@{draw(domains)}"))
    sender = str(Address(display_name=from_name, addr_spec="hello@shop.example"))
    html = draw(st.one_of(st.none(), st.just(""), bodies))
    unsubscribe = draw(st.sampled_from(UNSUBSCRIBE))
    subject = draw(st.one_of(header_text(max_size=40), header_text(min_size=80, max_size=400)))
    offset = timezone(timedelta(minutes=draw(st.integers(-720, 840))))
    args = {
        "rendered": RenderedMessage(subject=subject, text=draw(bodies), html=html, locale="en"),
        "key": draw(st.text(max_size=30)),
        "from_addr": sender,
        "to_addr": to,
        "reply_to": draw(st.sampled_from([None, "Hilfe Müller <help@shop.example>"])),
        "date": datetime(2024, 5, 1, 14, 30, tzinfo=UTC).astimezone(offset),
        "domain": "shop.example",
        "list_unsubscribe": unsubscribe,
        "one_click": any(u.startswith("https://") for u in unsubscribe),
        "extra_headers": draw(
            st.sampled_from([{}, {"X-Campaign": "spring"}, {"X-Note": "Grüße 😀 " * 12}])
        ),
    }
    return Case(args)


def parsed(composed: Composed) -> EmailMessage:
    msg = message_from_bytes(composed.data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def canonical(text: str) -> str:
    """What a text part reads back as: every line break a CRLF, one at the end."""
    return (b"\r\n".join(text.encode().splitlines()) + b"\r\n").decode()


def addresses(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    return [(_spaces(a.display_name), a.addr_spec) for a in msg[name].addresses]


def expected(header: str, value: str) -> list[tuple[str, str]]:
    name, spec = _address(header, value)  # what compose decided to write
    return [(_spaces(name), spec)]


def _spaces(name: str) -> str:
    # policy.default reads each run of whitespace (NBSP too) inside an encoded word of a
    # display name as one space (RFC 2047 readers keep it): compare names that go out as
    # encoded words so (non-ASCII ones, and ASCII ones that look encoded, such as "=?\\  ").
    return re.sub(r"\s+", " ", name) if "=?utf-8?" in phrase(name) else name


def contents(msg: EmailMessage) -> list[tuple[str, str]]:
    if not msg.is_multipart():
        return [(msg.get_content_type(), msg.get_content())]
    return [(p.get_content_type(), p.get_content()) for p in msg.iter_parts()]


def stdlib_message(case: Case) -> EmailMessage:
    """The same message through EmailMessage (policy SMTP), as compose() built it before."""
    a = case.args
    msg = EmailMessage(policy=policy.SMTP)
    for header, value in [
        ("From", a["from_addr"]),
        ("To", a["to_addr"]),
        ("Reply-To", a["reply_to"]),
    ]:
        if value is not None:
            name, spec = _address(header, value)
            msg[header] = Address(display_name=name, addr_spec=spec)
    msg["Subject"] = case.rendered.subject
    msg["Date"] = a["date"]
    msg["Message-ID"] = compose(**a).message_id
    if a["list_unsubscribe"]:
        msg["List-Unsubscribe"] = ", ".join(f"<{u}>" for u in a["list_unsubscribe"])
    if a["one_click"]:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in a["extra_headers"].items():
        msg[name] = value
    msg.set_content(case.rendered.text)
    if case.rendered.html is not None:
        msg.add_alternative(case.rendered.html, subtype="html")
    back = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(back, EmailMessage)
    return back


def header_block(data: bytes) -> list[str]:
    return data.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")


def unfoldable(line: str) -> bool:
    """A long line is acceptable only if it has no space to fold at (one long word)."""
    rest = line.lstrip(" ") if line.startswith(" ") else line.partition(": ")[2]
    return " " not in rest.strip(" ")


BASE: dict[str, Any] = {
    "rendered": RenderedMessage(subject="s", text="t", html=None, locale="en"),
    "key": "rule:c1:2024",
    "from_addr": "shop@shop.example",
    "to_addr": "ann@example.com",
    "reply_to": None,
    "date": datetime(2024, 5, 1, 14, 30, tzinfo=UTC),
    "domain": "shop.example",
    "list_unsubscribe": (),
    "one_click": False,
    "extra_headers": {},
}
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(cases())
def test_bytes_are_clean(case: Case) -> None:
    data = compose(**case.args).data
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")
    assert data.isascii()  # non-ASCII only inside encodings
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    head = header_block(data)
    for line in head:
        assert len(line) <= 78 or unfoldable(line), line
        assert line.strip(" \t"), "a header line of whitespace only"
    for word in re.findall(r"=\?[^?]*\?[bq]\?[^?]*\?=", "\r\n".join(head)):
        assert len(word) <= 75
    for line in lines[len(head) :]:
        assert len(line) <= 78  # bodies: 7bit only with short lines, else qp/base64 (76)


@PROPERTY
@given(cases())
def test_bytes_parse_back_to_the_same_values(case: Case) -> None:
    a, composed = case.args, compose(**case.args)
    msg = parsed(composed)
    assert not msg.defects
    assert addresses(msg, "From") == expected("From", a["from_addr"])
    assert addresses(msg, "To") == expected("To", a["to_addr"])
    if a["reply_to"] is not None:
        assert addresses(msg, "Reply-To") == expected("Reply-To", a["reply_to"])
    assert msg["Subject"] == case.rendered.subject
    assert msg["Date"].datetime == a["date"]
    assert msg["Message-ID"] == composed.message_id
    if a["list_unsubscribe"]:
        assert msg["List-Unsubscribe"] == ", ".join(f"<{u}>" for u in a["list_unsubscribe"])
    for name, value in a["extra_headers"].items():
        assert msg[name] == value
    want = [("text/plain", canonical(case.rendered.text))]
    if case.rendered.html is not None:
        want.append(("text/html", canonical(case.rendered.html)))
        assert msg.get_content_type() == "multipart/alternative"
    assert contents(msg) == want


def test_an_ascii_name_that_looks_encoded_keeps_its_spaces_on_the_wire() -> None:
    # Found by the property test above: "=?" makes compose() encode an ASCII name, and
    # the reader then folds its two trailing spaces into one.
    name = "=?\\  "
    sender = str(Address(display_name=name, addr_spec="hello@shop.example"))
    rendered = RenderedMessage(subject="s", text="t", html=None, locale="en")
    composed = compose(
        rendered=rendered, key="k", from_addr=sender, to_addr="ann@example.com",
        reply_to=None, date=datetime(2026, 12, 6, tzinfo=UTC), domain="shop.example",
        list_unsubscribe=(), one_click=False, extra_headers={},
    )  # fmt: skip
    (raw,) = [line for line in header_block(composed.data) if line.startswith("From:")]
    word = raw.removeprefix("From: ").split(" <")[0]
    assert str(make_header(decode_header(word))) == name  # both spaces are sent
    assert addresses(parsed(composed), "From") == expected("From", sender)


@PROPERTY
@given(cases())
def test_each_header_exactly_once_in_order(case: Case) -> None:
    a = case.args
    names = [line.split(":", 1)[0] for line in header_block(compose(**a).data)]
    names = [n for n in names if n and not n.startswith((" ", "\t"))]
    own = ["From", "To"] + (["Reply-To"] if a["reply_to"] is not None else [])
    own += ["Subject", "Date", "Message-ID"]
    own += ["List-Unsubscribe"] if a["list_unsubscribe"] else []
    own += ["List-Unsubscribe-Post"] if a["one_click"] else []
    own += [*a["extra_headers"], "MIME-Version", "Content-Type"]
    if case.rendered.html is None:
        own.append("Content-Transfer-Encoding")
    assert names == own


def structure(msg: EmailMessage) -> tuple[list[str], list[tuple[str, str]]]:
    """Header names in order (MIME-Version and the encoding may sit elsewhere), and parts."""
    moved = ("MIME-Version", "Content-Transfer-Encoding")
    return [k for k in msg.keys() if k not in moved], contents(msg)


@PROPERTY
@given(cases())
def test_the_stdlib_path_reads_the_same_structure(case: Case) -> None:
    ours, theirs = parsed(compose(**case.args)), stdlib_message(case)
    assert structure(ours) == structure(theirs)
    assert ours.get_content_type() == theirs.get_content_type()
    assert all("MIME-Version" not in part for part in ours.iter_parts())


words = st.sampled_from((SAMPLES + " Ann Lee Ihr Termin am 12. Dezember, 14:30 Uhr!").split(" "))


@st.composite
def realistic(draw: st.DrawFn) -> Case:
    """Words with single spaces: what the stdlib itself reads back as it wrote it."""
    case = draw(cases())
    name = " ".join(draw(st.lists(words, min_size=1, max_size=3)))
    subject = " ".join(draw(st.lists(words, max_size=40)))
    text = "\n".join(draw(st.lists(words, max_size=30)))
    rendered = RenderedMessage(subject=subject, text=text, html=case.rendered.html, locale="de")
    to = str(Address(display_name=name, addr_spec="anna@example.com"))
    sender_name = " ".join(draw(st.lists(words, min_size=1, max_size=3)))
    sender = str(Address(display_name=sender_name, addr_spec="hello@shop.example"))
    return Case({**case.args, "rendered": rendered, "to_addr": to, "from_addr": sender})


@PROPERTY
@given(realistic())
def test_the_stdlib_path_reads_the_same_values(case: Case) -> None:
    ours, theirs = parsed(compose(**case.args)), stdlib_message(case)
    names = ["From", "To", "Reply-To", "Subject", "Date", "Message-ID", "List-Unsubscribe"]
    for name in names + list(case.args["extra_headers"]):
        # The same text, but for the spaces EmailMessage's folder sometimes loses
        # next to an encoded word (ours are exact: see the parse-back property).
        assert ours[name] == theirs[name] or squash(ours[name]) == squash(theirs[name])
    assert ours["Subject"] == case.rendered.subject
    assert structure(ours) == structure(theirs)


def squash(value: str | None) -> str | None:
    return None if value is None else re.sub(r"\s+", "", value)


def test_the_stdlib_path_loses_a_space_that_ours_keeps() -> None:
    subject = "Müller Åsa Çelik 👩\u200d👩\u200d👧 — Müller Müller"
    case = Case(
        {**BASE, "rendered": RenderedMessage(subject=subject, text="t", html=None, locale="de")}
    )
    assert stdlib_message(case)["Subject"] == subject.replace("— ", "—")
    assert parsed(compose(**case.args))["Subject"] == subject


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.from_regex(_SIMPLE_ADDRESS, fullmatch=True),
        st.builds(
            "{} <{}@{}>".format,
            st.sampled_from(["Anna Schön", "山田 太郎", "O'Brien-Smith", "Zoë 2"]),
            locals_,
            st.sampled_from(["example.com", "a-b.example", "X.Y"]),
        ),
    )
)
def test_the_quick_address_path_agrees_with_the_full_checks(value: str) -> None:
    # _address skips the parsers for the plainest addresses; they must not matter there.
    assert _SIMPLE_ADDRESS.fullmatch(value)
    assert outcome(_address, value) == outcome(_checked_address, value)


def outcome(check: Any, value: str) -> object:
    try:
        return check("To", value)
    except ComposeError as exc:
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200))
def test_encoded_words_hold_whole_characters_within_75(text: str) -> None:
    words = encoded_words(text)
    assert all(len(w) <= 75 and w.isascii() and " " not in w for w in words)
    assert str(make_header(decode_header(" ".join(words)))) == text
    for word in words:  # each word decodes alone: no character is split
        (chunk, _), *_ = decode_header(word)
        assert isinstance(chunk, bytes)
        chunk.decode()


@pytest.mark.parametrize(
    "value",
    ["x" * 2000, "ab " + "y" * 1200 + " cd", "a" * 53 + "😀" * 30, "=?" + "z" * 950],
    ids=["one-word", "a-long-word-inside", "emoji-after-ascii", "looks-encoded"],
)
def test_words_too_long_for_a_line_are_encoded(value: str) -> None:
    composed = compose(
        **{
            **BASE,
            "rendered": RenderedMessage(subject=value, text="t", html=None, locale="en"),
            "to_addr": f"{value[:1000]} <ann@example.com>",
        }
    )
    head = header_block(composed.data)
    assert max(map(len, head)) <= 78
    assert parsed(composed)["Subject"] == value
    # A display name over many encoded words: read it as RFC 2047 says (see below).
    assert rfc2047(composed, "To") == f"{value[:1000]} <ann@example.com>"


@pytest.mark.parametrize(
    "name",
    [
        "Dr. " + "Ann Lee " * 15 + "Jr.",
        "Ann " * 30 + "Lee",
        "Müller, " + "Anna Lee " * 12 + "Schön",
    ],
    ids=["quoted", "atoms", "mixed"],
)
def test_long_display_names_fold_at_spaces(name: str) -> None:
    to = str(Address(display_name=name, addr_spec="ann@example.com"))
    composed = compose(**{**BASE, "to_addr": to})
    to_lines = [line for line in header_block(composed.data) if "Ann" in line]
    assert len(to_lines) > 1 and max(map(len, to_lines)) <= 78
    assert parsed(composed)["To"].addresses[0].display_name == name


def rfc2047(composed: Composed, name: str) -> str:
    """A header's value as an RFC 2047 reader shows it (whitespace between words dropped)."""
    raw = composed.data.decode("ascii").replace("\r\n ", " ")
    found = re.search(rf"^{name}: (.*)$", raw, re.MULTILINE)
    assert found is not None
    return str(make_header(decode_header(found.group(1).rstrip("\r"))))


def test_the_same_touchpoint_gives_the_same_bytes() -> None:
    args: dict[str, Any] = {
        "rendered": RenderedMessage(subject="Hi", text="t\n", html="<p>h</p>", locale="en"),
        "key": "rule:c1:2024",
        "from_addr": "shop@shop.example",
        "to_addr": "ann@example.com",
        "reply_to": None,
        "date": datetime(2024, 5, 1, 14, 30, tzinfo=UTC),
        "domain": "shop.example",
    }
    first = compose(**args)
    assert compose(**args) == first
    other = compose(**{**args, "key": "rule:c1:2025"})
    boundary = re.compile(rb'boundary="([^"]+)"')
    first_boundary = boundary.search(first.data)
    other_boundary = boundary.search(other.data)
    assert first_boundary and other_boundary
    assert first_boundary.group(1) != other_boundary.group(1)


def test_a_body_holding_the_boundary_gets_a_longer_one() -> None:
    key = "rule:c1:2024"
    seed = "=_tf" + hashlib.sha256(f"boundary:{key}".encode()).hexdigest()[:32]
    text = f"--{seed}\n--{seed}--\n"
    composed = compose(
        rendered=RenderedMessage(subject="s", text=text, html="<p>x</p>", locale="en"),
        key=key,
        from_addr="shop@shop.example",
        to_addr="ann@example.com",
        reply_to=None,
        date=datetime(2024, 5, 1, tzinfo=UTC),
        domain="shop.example",
    )
    assert f'boundary="{seed}_"'.encode() in composed.data
    assert contents(parsed(composed)) == [
        ("text/plain", canonical(text)),
        ("text/html", "<p>x</p>\r\n"),
    ]


@pytest.mark.parametrize(
    ("text", "cte"),
    [
        ("Hello Ann,\nsee you.\n", "7bit"),
        ("a" * 79, "quoted-printable"),  # a line longer than 78
        ("Grüße aus Wien, bis bald!\n", "quoted-printable"),  # Latin: readable
        ("ご予約ありがとうございます。\n" * 3, "base64"),  # CJK: base64 is far shorter
        ("bell\x07\n", "quoted-printable"),  # control characters are never sent raw
    ],
)
def test_transfer_encoding_follows_the_text(text: str, cte: str) -> None:
    composed = compose(
        rendered=RenderedMessage(subject="s", text=text, html=None, locale="en"),
        key="k",
        from_addr="shop@shop.example",
        to_addr="ann@example.com",
        reply_to=None,
        date=datetime(2024, 5, 1, tzinfo=UTC),
        domain="shop.example",
    )
    msg = parsed(composed)
    assert msg["Content-Transfer-Encoding"] == cte
    assert msg.get_content() == canonical(text)


def test_a_long_display_name_is_split_into_whole_characters() -> None:
    # RFC 2047: whitespace between encoded words is not part of the text. Python's
    # policy.default reads a space there in a display name (so does the old
    # EmailMessage output), so the wire form is checked with an RFC 2047 decoder.
    name = "株式会社ルミエール美容室渋谷店カスタマーサービス"
    composed = compose(
        rendered=RenderedMessage(subject="s", text="t", html=None, locale="ja"),
        key="k",
        from_addr=f"{name} <care@lumen.example>",
        to_addr="ann@example.com",
        reply_to=None,
        date=datetime(2024, 5, 1, tzinfo=UTC),
        domain="shop.example",
    )
    assert rfc2047(composed, "From") == f"{name} <care@lumen.example>"
    head = "\r\n".join(header_block(composed.data))
    assert all(len(w) <= 75 for w in re.findall(r"=\?\S+?\?=", head))


def test_unpaired_surrogates_and_overlong_uris_are_refused() -> None:
    args = BASE
    bad_text = RenderedMessage(subject="s", text="a\ud800", html=None, locale="en")
    with pytest.raises(ComposeError, match=r"^body: .*U\+D800"):
        compose(**{**args, "rendered": bad_text})
    bad_subject = RenderedMessage(subject="a\udfff", text="t", html=None, locale="en")
    with pytest.raises(ComposeError, match=r"^Subject: .*surrogate"):
        compose(**{**args, "rendered": bad_subject})
    with pytest.raises(ComposeError, match="longer than"):
        compose(**{**args, "list_unsubscribe": ["https://shop.example/" + "u" * 1000]})
    with pytest.raises(ComposeError, match="longer than"):
        compose(**{**args, "to_addr": "a" * 300 + "@example.com"})
