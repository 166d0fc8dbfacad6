"""The SMTP channel's shortcuts give what the full checks and rewrites would.

The channel skips ``parseaddr`` for plain addresses (``BARE_ADDRESS``), and
the line-end and dot-stuffing rewrites for bytes that need none. Property
tests compare each shortcut with the long way round.
"""

from __future__ import annotations

import re
from email.utils import parseaddr

from hypothesis import given
from hypothesis import strategies as st

from touchflow.channels import Envelope
from touchflow.channels.smtp import _envelope_problem
from touchflow.channels.smtp_session import crlf, dot_stuffed
from touchflow.headers import BARE_ADDRESS

ADDRESS_LIKE = st.text(alphabet="aZ09._%+'-@ <>\",;:\\()[]\t\x00é", max_size=30)


def envelope(sender: str, recipient: str) -> Envelope:
    return Envelope(key="k", sender=sender, recipient=recipient, data=b"", message_id="<m@x>")


def full_check(address: str) -> bool:
    """The channel's rule for an envelope address, without the shortcut."""
    bare = parseaddr(address)[1] == address and "@" in address
    return bare and address.isascii() and not re.search(r"[\s<>,;\x00-\x1f\x7f]", address)


@given(st.from_regex(BARE_ADDRESS, fullmatch=True))
def test_a_bare_address_is_one_the_full_check_accepts(address: str) -> None:
    assert full_check(address)
    assert _envelope_problem(envelope(address, address)) is None


@given(ADDRESS_LIKE, ADDRESS_LIKE)
def test_the_check_with_its_shortcut_agrees_with_the_full_check(
    sender: str, recipient: str
) -> None:
    problem = _envelope_problem(envelope(sender, recipient))
    sender_ok = sender == "" or full_check(sender)
    assert (problem is None) == (sender_ok and full_check(recipient))


def slow_crlf(data: bytes) -> bytes:
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


LINES = st.binary(max_size=200).map(lambda b: b.replace(b"a", b"\r").replace(b"b", b"\n"))


@given(st.one_of(LINES, LINES.map(slow_crlf)))
def test_line_ends_are_rewritten_only_when_needed_and_the_same_way(data: bytes) -> None:
    assert crlf(data) == slow_crlf(data)


@given(st.one_of(LINES, LINES.map(lambda b: b.replace(b"c", b"."))))
def test_dot_stuffing_is_skipped_only_when_no_line_starts_with_a_dot(data: bytes) -> None:
    assert dot_stuffed(data) == re.sub(rb"(?m)^\.", b"..", data)
