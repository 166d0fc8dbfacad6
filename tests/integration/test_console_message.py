"""The console's message page: a touchpoint's message exactly as the dispatcher builds
it, its HTML part served alone under a policy that runs nothing; and the rules page's
coming volume and sample per rule."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from urllib.parse import unquote

import pytest
from console_offline_support import write_reminder_html
from console_support import (
    CUSTOMERS,
    EVIL,
    EVIL_DATA,
    HEADERS,
    console_events,
    counted_page,
    make_failed,
)
from http_support import NOW, Setup, coupon, http_api
from test_console import session

from touchflow.console.message import HTML_CSP
from touchflow.console.message_view import find_touchpoint
from touchflow.console.rules_volume import volumes
from touchflow.models import OutboxState, Status
from touchflow.plan.forecast import ForecastRequest, GroupBy
from touchflow.plan.forecast_store import forecast
from touchflow.send.batch import envelope

LINK = re.compile(r'href="(/console/message\?customer=[^"&]+&amp;key=[^"]+)"')


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Setup]:
    write_reminder_html(tmp_path)
    events = [*console_events(), coupon("SPRING", customer="c1", expires="NOW+72h")]
    async with http_api(tmp_path, customers=CUSTOMERS, events=events) as setup:
        await make_failed(setup.store, NOW)
        yield setup


async def links(api: Setup, customer: str, cookie: dict[str, str]) -> dict[str, str]:
    """The customer page's message links, by touchpoint key."""
    page = (await api.client.get(f"/console/customers/{customer}", headers=cookie)).text
    found = [html.unescape(link) for link in LINK.findall(page)]
    return {unquote(link.rpartition("key=")[2]): link for link in found}


def reminder_key(keys: dict[str, str]) -> str:
    (key,) = [k for k in keys if k.startswith("reminder:")]
    return key


async def test_the_page_shows_headers_and_text_escaped_and_frames_the_html(api: Setup) -> None:
    cookie = await session(api.client)
    keys = await links(api, "c3", cookie)
    key = reminder_key(keys)
    assert "%3Cimg%20src" in key  # the occurrence: the event's (hostile) appointment id
    answer = await api.client.get(keys[key], headers=cookie)
    assert answer.status_code == 200, answer.text
    assert {k: answer.headers[k] for k in HEADERS} == HEADERS
    page = answer.text
    assert "<script" not in page and "<img" not in page
    assert f"Hello {html.escape(EVIL)}, see you" in page  # the text part, escaped
    assert '<th scope="row">Subject</th><td>Reminder: your appointment ' in page
    for header in ("From", "To", "Date", "Message-ID", "MIME-Version"):
        assert f'<th scope="row">{header}</th>' in page
    (frame,) = re.findall(r"<iframe [^>]*>", page)
    assert frame.startswith('<iframe class="message-html" sandbox src="/console/message/html?')
    source = html.unescape(re.search(r'src="([^"]+)"', frame).group(1))  # type: ignore[union-attr]
    served = await api.client.get(source, headers=cookie)
    assert served.status_code == 200
    assert served.headers["content-security-policy"] == HTML_CSP
    assert HTML_CSP == "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"] == "no-store"
    assert served.headers["content-type"] == "text/html; charset=utf-8"
    # The part as it goes out: the raw name (the template asked for it) and the escaped id.
    assert f"Hello {EVIL}," in served.text
    assert html.escape(EVIL_DATA) in served.text


async def test_the_message_is_the_one_the_dispatcher_builds(api: Setup) -> None:
    cookie = await session(api.client)
    keys = await links(api, "c3", cookie)
    key = reminder_key(keys)
    page = (await api.client.get(keys[key], headers=cookie)).text
    engine = api.daemon
    now = engine.clock.now()
    tp = await find_touchpoint(engine.project, engine.store, "c3", key, now)
    assert tp is not None and tp.status is Status.PLANNED
    (row,) = [r for r in await api.store.list_outbox(customer_id="c3") if r.key == key]
    sent = envelope(engine.project, row, tp, date=now)
    assert not isinstance(sent, type(row)), sent
    message = BytesParser(policy=default).parsebytes(sent.data)
    assert isinstance(message, EmailMessage)
    for name, value in message.items():
        if name == "Content-Type":  # a boundary of its own in each build
            assert f'<th scope="row">{name}</th><td>{message.get_content_type()};' in page
        elif name != "Date":  # the page's message is built a moment later
            assert f'<th scope="row">{name}</th><td>{html.escape(str(value))}</td>' in page
    text = message.get_body(("plain",))
    assert isinstance(text, EmailMessage)
    assert html.escape(text.get_content()) in page


async def test_a_marketing_message_has_its_unsubscribe_headers(api: Setup) -> None:
    cookie = await session(api.client)
    keys = await links(api, "c1", cookie)
    (key,) = [k for k in keys if k.startswith("coupon:")]
    page = (await api.client.get(keys[key], headers=cookie)).text
    assert (
        '<th scope="row">List-Unsubscribe</th><td>&lt;https://touch.example.com/v1/unsubscribe/'
        in page
    )
    assert '<th scope="row">List-Unsubscribe-Post</th><td>List-Unsubscribe=One-Click</td>' in page
    served = await api.client.get(
        keys[key].replace("/console/message?", "/console/message/html?"), headers=cookie
    )
    assert served.status_code == 404  # the coupon has no HTML part
    assert "This message has no HTML part." in page


async def test_a_held_touchpoint_shows_its_message_and_why_it_is_held(api: Setup) -> None:
    cookie = await session(api.client)
    keys = await links(api, "c2", cookie)
    page = (await api.client.get(keys[reminder_key(keys)], headers=cookie)).text
    assert "<strong>held</strong> · <code>cancelled</code>" in page
    assert "Held (cancelled)" in page and "It is not sent; this is the message it would be." in page
    assert "Hello Ben, see you" in page


async def test_a_sent_touchpoint_says_no_copy_is_kept(api: Setup) -> None:
    later = NOW + timedelta(hours=3)  # late-ok is due two hours after Ana's inquiry
    claimed = await api.store.claim_due(owner="t", now=later, ttl=timedelta(minutes=5), limit=9)
    (row,) = [r for r in claimed if r.key.startswith("late-ok:c1")]
    done = replace(row, state=OutboxState.SENT, sent_at=later, message_id="<m@x>")
    assert await api.store.finish_claim(done, owner="t", now=later, attempted=True)
    cookie = await session(api.client)
    keys = await links(api, "c1", cookie)
    page = (await api.client.get(keys[row.key], headers=cookie)).text
    assert "Outbox: sent, sent 2026-11-23" in page
    assert "touchflow keeps no copy of what it sent" in page


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("", 400, "Name the touchpoint"),
        ("?customer=c1", 400, "Name the touchpoint"),
        ("?customer=nobody&key=x", 404, "No customer &#39;nobody&#39;"),
        ("?customer=c1&key=%3Cscript%3E", 404, "no touchpoint &#39;&lt;script&gt;&#39;"),
    ],
)
async def test_a_message_that_is_not_there_is_a_page_that_says_so(
    api: Setup, query: str, status: int, words: str
) -> None:
    cookie = await session(api.client)
    for path in ("/console/message", "/console/message/html"):
        answer = await api.client.get(path + query, headers=cookie)
        assert answer.status_code == status
        assert words in answer.text and "<script" not in answer.text


@pytest.mark.parametrize("path", ["/console/message", "/console/message/html"])
async def test_without_a_session_the_message_sends_to_the_login(api: Setup, path: str) -> None:
    answer = await api.client.get(f"{path}?customer=c3&key=x")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login"


async def test_the_rules_page_shows_each_rules_volume_and_a_sample(api: Setup) -> None:
    cookie = await session(api.client)
    page = await counted_page(api.client, "/console/rules", cookie)
    engine = api.daemon
    coming = await volumes(engine.project, engine.store, engine.clock.now())
    request = ForecastRequest(window=coming.window, timezone="UTC", by=GroupBy.RULE)
    counted = await forecast(engine.project, engine.store, request, workers=1)
    assert {g.label: g.planned for g in counted.groups if g.planned} == {
        rule: n for rule, n in coming.planned.items() if n
    }
    assert coming.planned["reminder"] == 2 and coming.held["reminder"] == 1
    assert "<td>2 planned, 1 held</td>" in page
    sample = coming.samples["reminder"].touchpoint
    assert sample.customer_id == "c1"  # due with Eve's, and first by customer id
    assert "Reminder: your appointment a-1</a>" in page
    assert "nothing planned in the next 30 days" in page  # the failed ack's rule: all past
    assert "<script" not in page and "<img" not in page
    link = html.unescape(LINK.findall(page)[0])
    assert (await api.client.get(link, headers=cookie)).status_code == 200
