"""One-click unsubscribe: the link in the message, the page, the POST, and its immediate effect."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from http_support import PUBLIC_URL, SECRET, Setup, coupon, event, http_api

from touchflow.messages.unsubscribe import make_token
from touchflow.models import Category, OutboxState, Suppression, SuppressionScope

COUPON = "coupon:c1:X1:1d-before"  # marketing, due 12 hours before NOW: ready at once
ACK = "ack:c1:q-1:0"  # transactional, due at once


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Setup]:
    """The HTTP app with a coupon due and an inquiry to answer (in place of conftest's)."""
    inquiry = {
        **event("q1", inquiry_id="q-1", subject="Hi"),
        "at": "{{ at(days=0, time='08:00', tz='UTC') }}",
    }
    async with http_api(tmp_path, events=[coupon("X1"), inquiry]) as setup:
        assert (await setup.rows("c1"))[COUPON].state is OutboxState.PENDING
        yield setup


def ana_token(key: str = SECRET, category: Category = Category.MARKETING) -> str:
    return make_token(key, "ana@example.com", category)


def sent_keys(api: Setup) -> set[str]:
    return {str(message_from_bytes(p.read_bytes())["Subject"]) for p in api.maildir()}


async def test_the_marketing_message_carries_a_one_click_link_that_works(api: Setup) -> None:
    await api.daemon.dispatcher.drain()
    messages = {
        m["Subject"]: m
        for m in (message_from_bytes(p.read_bytes(), policy=policy.default) for p in api.maildir())
    }
    marketing = messages["Your coupon X1 expires soon"]
    links = re.findall(r"<([^>]+)>", str(marketing["List-Unsubscribe"]))
    assert links[0].startswith(f"{PUBLIC_URL}/v1/unsubscribe/")
    assert links[1:] == ["mailto:unsubscribe@example.com"]
    assert marketing["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    transactional = messages["We got your question: Hi"]
    assert transactional["List-Unsubscribe"] is None

    path = links[0].removeprefix(PUBLIC_URL)
    answer = await api.client.post(path, content=b"List-Unsubscribe=One-Click")
    assert answer.status_code == 200
    assert answer.json() == {"unsubscribed": "a•••@example.com", "category": "marketing"}


async def test_a_one_click_post_suppresses_marketing_at_once_and_nothing_else(api: Setup) -> None:
    answer = await api.client.post(
        f"/v1/unsubscribe/{ana_token()}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},  # no cookie, no token
    )
    assert answer.status_code == 200
    suppressions = api.snapshot()["suppressions"]
    assert [(row[0], row[1], row[2]) for row in suppressions] == [
        ("ana@example.com", "marketing", "one-click unsubscribe")
    ]
    await api.settle()
    rows = await api.rows("c1")
    assert rows[COUPON].state is OutboxState.SUPPRESSED
    await api.daemon.dispatcher.drain()
    assert sent_keys(api) == {"We got your question: Hi"}  # transactional still goes out


async def test_the_dispatcher_rechecks_a_row_suppressed_after_it_was_planned(api: Setup) -> None:
    # The suppression lands, the row is still pending (no re-plan yet): the fresh plan
    # the dispatcher makes just before sending must hold it.
    await api.store.add_suppression(
        Suppression(email="ana@example.com", scope=SuppressionScope.MARKETING, reason="test")
    )
    assert (await api.rows("c1"))[COUPON].state is OutboxState.PENDING
    await api.daemon.dispatcher.drain()
    assert (await api.rows("c1"))[COUPON].state is OutboxState.SUPPRESSED
    assert sent_keys(api) == {"We got your question: Hi"}


async def test_a_repeated_unsubscribe_is_fine(api: Setup) -> None:
    for _ in range(2):
        answer = await api.client.post(f"/v1/unsubscribe/{ana_token()}")
        assert answer.status_code == 200
    assert len(api.snapshot()["suppressions"]) == 1


async def test_a_browser_gets_a_page(api: Setup) -> None:
    answer = await api.client.post(
        f"/v1/unsubscribe/{ana_token()}", headers={"Accept": "text/html,*/*"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "a•••@example.com gets no more marketing e-mails from Test Shop" in answer.text


async def test_get_shows_a_button_and_changes_nothing(api: Setup) -> None:
    before = api.snapshot()
    answer = await api.client.get(f"/v1/unsubscribe/{ana_token()}")
    assert answer.status_code == 200
    assert '<form method="post">' in answer.text
    assert "a•••@example.com" in answer.text
    assert "ana@example.com" not in answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    await api.settle()
    assert api.snapshot() == before


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def _other_address() -> str:
    """Ana's signature on Ben's address: a link for one address made into one for another."""
    payload = make_token(SECRET, "ben@example.com", Category.MARKETING).split(".")[0]
    return f"{payload}.{ana_token().split('.')[1]}"


BAD_TOKENS = [
    pytest.param(lambda: _flip(ana_token(), 3), id="payload-changed"),
    pytest.param(lambda: _flip(ana_token(), len(ana_token()) - 5), id="signature-changed"),
    pytest.param(_other_address, id="another-address"),
    pytest.param(lambda: ana_token(category=Category.TRANSACTIONAL), id="transactional"),
    pytest.param(
        lambda: (
            make_token(SECRET, "ana@example.com", Category.TRANSACTIONAL).split(".")[0]
            + "."
            + ana_token().split(".")[1]
        ),
        id="category-swapped",
    ),
    pytest.param(lambda: ana_token(key="another-secret-0123456789"), id="another-secret"),
    pytest.param(lambda: ana_token()[:-3], id="cut-off"),
    pytest.param(lambda: ana_token() + "=", id="padded"),
    pytest.param(lambda: "x" * 2000, id="long-junk"),
    pytest.param(lambda: "a.b.c", id="three-parts"),
]


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_a_token_we_did_not_sign_is_a_400_and_changes_nothing(
    api: Setup, token: object
) -> None:
    assert callable(token)
    before = api.snapshot()
    answer = await api.client.post(f"/v1/unsubscribe/{token()}")
    assert answer.status_code == 400
    assert [p["field"] for p in answer.json()["problems"]] == ["token"]
    page = await api.client.get(f"/v1/unsubscribe/{token()}")
    assert page.status_code == 400
    assert "not" in page.text
    await api.settle()
    assert api.snapshot() == before
