"""Unsubscribe tokens, and the List-Unsubscribe headers of the messages that carry them."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import write_project

from touchflow.errors import ConfigError
from touchflow.messages.build import build
from touchflow.messages.unsubscribe import (
    TokenError,
    UnsubscribeLinks,
    make_token,
    read_token,
)
from touchflow.models import Category, PlannedTouchpoint, Status
from touchflow.project import load_project_checked, load_with_links, with_links

KEY = "k" * 32
ENV = {"TOUCHFLOW_UNSUBSCRIBE_SECRET": KEY}


def test_a_token_names_the_address_lower_cased_and_the_category() -> None:
    token = make_token(KEY, "Ana Lima <Ana@Example.COM>", Category.MARKETING)
    wish = read_token(KEY, token)
    assert (wish.address, wish.category) == ("ana@example.com", Category.MARKETING)


@given(
    local=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=30),
    domain=st.from_regex(r"[a-z]{1,20}\.[a-z]{2,6}", fullmatch=True),
)
def test_every_address_round_trips_and_any_changed_character_is_refused(
    local: str, domain: str
) -> None:
    token = make_token(KEY, f"{local}@{domain}", Category.MARKETING)
    assert read_token(KEY, token).address == f"{local}@{domain}".lower()
    for at in range(len(token)):
        changed = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]
        with pytest.raises(TokenError):
            read_token(KEY, changed)


@pytest.mark.parametrize(
    "token",
    [
        make_token("another-key-0123456789", "ana@example.com", Category.MARKETING),
        make_token(KEY, "ana@example.com", Category.TRANSACTIONAL),
        "",
        ".",
        "no-dot-at-all",
        "a.b.c",
        "ä.ö",
        "x" * 1001,
    ],
    ids=["another-key", "transactional", "empty", "dot", "no-dot", "three", "non-ascii", "long"],
)
def test_tokens_we_did_not_sign_for_marketing_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        read_token(KEY, token)


def test_the_key_never_shows_in_the_links_repr() -> None:
    links = UnsubscribeLinks(public_url="https://t.example.com", key=KEY)
    assert KEY not in repr(links)
    assert links.url("ana@example.com", Category.MARKETING).startswith(
        "https://t.example.com/v1/unsubscribe/"
    )


# --- the project and its messages -----------------------------------------------------

RULES = """\
- id: sale
  category: marketing
  trigger: {date: "12-01"}
  action: {template: t}
- id: note
  category: transactional
  trigger: {date: "12-01"}
  action: {template: t}
"""


def _project(root: Path, http: str) -> Path:
    write_project(
        root,
        RULES,
        f"""\
        email:
          from: "Shop <shop@example.com>"
          unsubscribe: "mailto:off@example.com"
        {http}
        """,
    )
    (root / "message_templates" / "t").mkdir(parents=True)
    (root / "message_templates" / "t" / "subject.txt").write_text("Hi")
    (root / "message_templates" / "t" / "body.txt").write_text("Hello")
    return root


def _headers(root: Path, environ: dict[str, str], category: Category) -> dict[str, str]:
    project = load_with_links(root, environ)
    tp = PlannedTouchpoint(
        key=f"{category.value}:c1:2026:0", rule_id="sale", customer_id="c1", occurrence="2026",
        channel="email", template="t", category=category, priority=0,
        due_at=datetime(2026, 12, 1, 9, tzinfo=UTC), timezone="UTC", status=Status.PLANNED,
        to="Ana@Example.com", context={"customer": {}},
    )  # fmt: skip
    built = build(project, tp, date=tp.due_at)
    assert built.email is not None
    message = message_from_bytes(built.email.data, policy=policy.default)
    return {k: str(v) for k, v in message.items()}


def test_with_a_public_https_url_marketing_gets_the_one_click_link_first(tmp_path: Path) -> None:
    root = _project(tmp_path, "http: {public_url: 'https://t.example.com'}")
    headers = _headers(root, ENV, Category.MARKETING)
    token = make_token(KEY, "ana@example.com", Category.MARKETING)
    assert headers["List-Unsubscribe"] == (
        f"<https://t.example.com/v1/unsubscribe/{token}>, <mailto:off@example.com>"
    )
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    transactional = _headers(root, ENV, Category.TRANSACTIONAL)
    assert "List-Unsubscribe" not in transactional


def test_with_a_plain_http_url_there_is_no_one_click_header(tmp_path: Path) -> None:
    root = _project(tmp_path, "http: {public_url: 'http://t.example.com'}")
    headers = _headers(root, ENV, Category.MARKETING)
    assert headers["List-Unsubscribe"].startswith("<http://t.example.com/v1/unsubscribe/")
    assert "List-Unsubscribe-Post" not in headers


def test_without_a_public_url_the_messages_are_as_before(tmp_path: Path) -> None:
    root = _project(tmp_path, "http: {port: 9000}")
    headers = _headers(root, {}, Category.MARKETING)
    assert headers["List-Unsubscribe"] == "<mailto:off@example.com>"


def test_a_public_url_without_the_secret_stops_the_daemon_naming_the_variable(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path, "http: {public_url: 'https://t.example.com'}")
    with pytest.raises(ConfigError) as caught:
        load_with_links(root, {})
    assert "TOUCHFLOW_UNSUBSCRIBE_SECRET" in str(caught.value)


def test_a_preview_without_the_secret_shows_links_no_server_accepts(tmp_path: Path) -> None:
    root = _project(tmp_path, "http: {public_url: 'https://t.example.com'}")
    project = with_links(load_project_checked(root), {}, preview=True)
    assert project.unsubscribe is not None
    token = project.unsubscribe.url("ana@example.com", Category.MARKETING).rsplit("/", 1)[1]
    with pytest.raises(TokenError):
        read_token(KEY, token)
