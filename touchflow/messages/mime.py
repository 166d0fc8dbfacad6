"""The bytes of a MIME message, built directly: header encoding and folding, body encodings.

``email.message.EmailMessage`` spends most of its time in the header registry's
parsers, re-reading values we have just checked. This module writes the same
wire format from values compose.py has already validated, with the stdlib's
C-backed pieces (``binascii`` quoted-printable, ``base64``):

* headers are ASCII: a word holding non-ASCII text (or anything a parser would
  mistake for an encoded word) goes out as RFC 2047 encoded words, ``q`` or
  ``b``, whichever is shorter; each at most 75 characters and holding whole
  characters only (at most 68, so "Reply-To: " and a word fit in 78). Plain
  words stay readable.
* header lines are folded at spaces to at most 78 characters where a space
  allows it; no word is longer than ``_MAX_WORD``, so no line exceeds 998.
* body lines end in CRLF; 7bit for short printable ASCII lines, otherwise
  quoted-printable or base64, whichever is shorter (Latin text stays readable
  as quoted-printable, CJK text is a third of the size as base64). 8bit would
  rely on the server's 8BITMIME and on nothing re-encoding it later, which would
  break a DKIM signature.

Nothing here checks for injected line breaks: callers pass checked values only.
"""

from __future__ import annotations

import binascii
import re
import string
from collections.abc import Callable, Sequence

CRLF = "\r\n"
_FOLD_AT = 78
_MAX_WORD = 900  # an unbroken word longer than this is encoded, so lines stay <= 998
# An encoded word is at most 68 characters ("=?utf-8?b?" + 56 + "?="), so that
# "Reply-To: " and one word still fit in 78; RFC 2047 allows 75.
_B_BYTES = 42  # 56 base64 characters
_Q_CHARS = 56
# RFC 2047 5(3): the characters a "q" encoded word may carry as themselves in a phrase.
_Q_SAFE = (string.ascii_letters + string.digits + "!*+-/").encode("ascii")
_Q_MAP = [chr(b) if b in _Q_SAFE else f"={b:02X}" for b in range(256)]
_Q_MAP[0x20] = "_"
_Q_KEEP = _Q_SAFE + b" "
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")
_QUOTE_SPECIALS = re.compile(r'[()<>@,:;.\\"\[\]\t]|^ | $|  ')
_LOOKS_ENCODED = re.compile(r"=\?|\?=")
# A body that may go out as 7bit: printable ASCII, TAB and line breaks only.
_NOT_7BIT = re.compile(rb"[^\t\r\n\x20-\x7e]")


def encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded words (UTF-8), each within 75 characters."""
    data = text.encode("utf-8")
    q_size = len(data) + 2 * len(data.translate(None, _Q_KEEP))  # "=XX" per escaped byte
    if (len(data) + 2) // 3 * 4 < q_size:
        return _b_words(data)
    return _q_words(data)


def _b_words(data: bytes) -> list[str]:
    words = []
    start, size = 0, len(data)
    while start < size:
        end = min(start + _B_BYTES, size)
        while end < size and data[end] & 0xC0 == 0x80:  # never split a character
            end -= 1
        chunk = binascii.b2a_base64(data[start:end], newline=False).decode("ascii")
        words.append(f"=?utf-8?b?{chunk}?=")
        start = end
    return words


def _q_words(data: bytes) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    used = 0
    for byte in data:
        piece = _Q_MAP[byte]
        if byte < 0x80 or byte >= 0xC0:  # the first byte of a character: a word may end here
            size = len(piece) if byte < 0x80 else 6 if byte < 0xE0 else 9 if byte < 0xF0 else 12
            if used + size > _Q_CHARS and current:
                words.append(f"=?utf-8?q?{''.join(current)}?=")
                current, used = [], 0
        current.append(piece)
        used += len(piece)
    if current:
        words.append(f"=?utf-8?q?{''.join(current)}?=")
    return words


def unstructured(value: str) -> str:
    """A free-text value (Subject, extra headers): plain words kept, the rest encoded.

    Encoded runs never touch each other (whitespace between two encoded words
    is dropped by readers), so each run carries the spaces inside it.
    """
    if value[:1] in (" ", "\t"):
        # Readers drop whitespace after the colon: carry it in encoded words.
        return " ".join(encoded_words(value))
    if value.isascii() and not _LOOKS_ENCODED.search(value) and _short_words(value):
        return value
    if "  " in value:
        # A run of spaces cannot separate encoded words (readers drop it there).
        return " ".join(encoded_words(value))
    return _mixed(value.split(" "), _plain_text_word)


def phrase(name: str) -> str:
    """A display name: atoms as they are, a quoted string, or encoded words."""
    if name.isascii() and not _LOOKS_ENCODED.search(name) and _short_words(name):
        if not _QUOTE_SPECIALS.search(name):
            return name
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if name[:1] in (" ", "\t") or name[-1:] in (" ", "\t") or "  " in name:
        return " ".join(encoded_words(name))
    return _mixed(name.split(" "), _plain_phrase_word)


def _short_words(value: str) -> bool:
    return len(value) <= _MAX_WORD or all(len(w) <= _MAX_WORD for w in value.split(" "))


def _plain_text_word(word: str) -> bool:
    return word.isascii() and len(word) <= _MAX_WORD and not _LOOKS_ENCODED.search(word)


def _plain_phrase_word(word: str) -> bool:
    return len(word) <= _MAX_WORD and bool(_ATOM.fullmatch(word)) and "=?" not in word


def _mixed(words: Sequence[str], is_plain: Callable[[str], bool]) -> str:
    out: list[str] = []
    run: list[str] = []
    for word in words:
        if is_plain(word):
            if run:
                out += encoded_words(" ".join(run))
                run = []
            out.append(word)
        else:
            run.append(word)
    if run:
        out += encoded_words(" ".join(run))
    return " ".join(out)


def address(name: str, addr_spec: str) -> str:
    return f"{phrase(name)} <{addr_spec}>" if name else addr_spec


def header(name: str, value: str) -> str:
    """``Name: value`` CRLF, folded at spaces to 78 characters where a space allows."""
    line = f"{name}: {value}"
    if len(line) <= _FOLD_AT:
        return line + CRLF
    words = line.split(" ")
    lines: list[str] = []
    current = words[0]
    for word in words[1:]:
        # Fold before a word with something visible, so no line is only whitespace.
        if len(current) + 1 + len(word) > _FOLD_AT and word.strip(" \t") and current.strip():
            lines.append(current)
            current = " " + word
        else:
            current += " " + word
    lines.append(current)
    return CRLF.join(lines) + CRLF


def list_header(name: str, items: Sequence[str]) -> str:
    """Items joined by ", " and folded between items only, never inside one (RFC 2369)."""
    value = ", ".join(items)
    if len(name) + 2 + len(value) <= _FOLD_AT:
        return f"{name}: {value}{CRLF}"
    return f"{name}: {f',{CRLF} '.join(items)}{CRLF}"


def text_body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, encoded body ending in CRLF) for a text part.

    Raises UnicodeEncodeError for an unpaired surrogate.
    """
    lines = text.encode("utf-8").splitlines()
    body = b"\r\n".join(lines) + b"\r\n"
    if not _NOT_7BIT.search(body) and max(map(len, lines), default=0) <= _FOLD_AT:
        return "7bit", body
    qp = binascii.b2a_qp(body, istext=True)  # CRLF in, CRLF out; lines <= 76
    b64_size = (len(body) + 2) // 3 * 4
    b64_size += 2 * -(-b64_size // 76)
    if b64_size < len(qp):
        encoded = binascii.b2a_base64(body, newline=False)
        return "base64", CRLF.encode().join(
            encoded[i : i + 76] for i in range(0, len(encoded), 76)
        ) + b"\r\n"
    return "quoted-printable", qp


def _part_head(subtype: str, cte: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}Content-Transfer-Encoding: {cte}{CRLF}'
    ).encode("ascii")


def message(head: str, text: str, html: str | None, *, boundary: str) -> bytes:
    """The whole message: ``head`` (folded header lines), then the MIME headers and body.

    One text/plain part, or multipart/alternative with text first, then HTML.
    ``boundary`` is a seed; it is lengthened until no part contains it.
    """
    start = (head + "MIME-Version: 1.0" + CRLF).encode("ascii")
    cte, body = text_body(text)
    if html is None:
        return start + _part_head("plain", cte) + b"\r\n" + body
    html_cte, html_body = text_body(html)
    mark = boundary.encode("ascii")
    while mark in body or mark in html_body:
        mark += b"_"
    return b"".join(
        (
            start,
            b'Content-Type: multipart/alternative;\r\n boundary="',
            mark,
            b'"\r\n\r\n--',
            mark,
            b"\r\n",
            _part_head("plain", cte),
            b"\r\n",
            body,
            b"\r\n--",
            mark,
            b"\r\n",
            _part_head("html", html_cte),
            b"\r\n",
            html_body,
            b"\r\n--",
            mark,
            b"--\r\n",
        )
    )
