"""The console's pages at scale, in-process: the outbox's keyset pages, the calendar's
kept forecast (counted off the request path), and the health page's figures."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from console_support import CUSTOMERS, console_events, make_failed
from http_support import NOW, TOKEN, Setup, http_api
from store_support import outbox_row

from touchflow.console.outbox import SHOWN
from touchflow.console.session import COOKIE
from touchflow.models import OutboxState

BULK = 2 * SHOWN + 30  # rows added to the outbox: three pages and a bit


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Setup]:
    async with http_api(tmp_path, customers=CUSTOMERS, events=console_events()) as setup:
        await make_failed(setup.store, NOW)
        yield setup


async def session(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await client.post("/console/login", data={"token": TOKEN})
    assert answer.status_code == 303, answer.text
    return {"Cookie": f"{COOKIE}={answer.cookies[COOKIE]}"}


async def add_bulk(setup: Setup) -> None:
    """``BULK`` rows of rule ``reminder``, many sharing a due time (ties go by key)."""
    rows = [
        outbox_row(f"bulk:{i:04d}", OutboxState.SENT if i % 3 else OutboxState.CANCELLED,
                   due=NOW - timedelta(days=40) + timedelta(minutes=i // 7), rule_id="reminder",
                   customer_id=f"x{i % 5}")
        for i in range(BULK)
    ]  # fmt: skip
    await setup.store.write_plan(rows, [], now=NOW)


def keys_and_next(page: str) -> tuple[list[str], str | None]:
    keys = re.findall(r'<td class="when">[^<]*</td><td><a href="[^"]*">([^<]*)</a>', page)
    found = re.search(r'<a href="([^"]*)" rel="next">Next page →</a>', page)
    return [html.unescape(k) for k in keys], html.unescape(found[1]) if found else None


async def walk(api: Setup, start: str) -> list[list[str]]:
    cookie = await session(api.client)
    pages, link = [], start
    while link is not None:
        answer = await api.client.get(link, headers=cookie)
        assert answer.status_code == 200, answer.text
        keys, link = keys_and_next(answer.text)
        pages.append(keys)
    return pages


async def test_the_outbox_pages_walk_every_row_once_in_due_order(api: Setup) -> None:
    await add_bulk(api)
    everything = [r.key for r in await api.store.list_outbox()]
    pages = await walk(api, "/console/outbox")
    assert [len(p) for p in pages[:-1]] == [SHOWN] * (len(pages) - 1)
    assert [key for page in pages for key in page] == everything
    assert len(everything) > 2 * SHOWN


async def test_the_pages_keep_the_filters_the_rule_s_past_any_first_rows(api: Setup) -> None:
    await add_bulk(api)
    sent = [r.key for r in await api.store.list_outbox(states=[OutboxState.SENT])]
    cancelled = await api.store.list_outbox(states=[OutboxState.CANCELLED], rule_id="reminder")
    cancelled_bulk = [r.key for r in cancelled]
    assert [k for p in await walk(api, "/console/outbox?state=sent") for k in p] == sent
    by_rule = await walk(api, "/console/outbox?state=cancelled&rule=reminder")
    assert [k for p in by_rule for k in p] == cancelled_bulk and len(cancelled_bulk) > SHOWN // 2
    assert len(sent) > SHOWN and len(by_rule) == 1  # the rule's rows found past the others
    assert await walk(api, "/console/outbox?rule=reminder&customer=nobody") == [[]]


async def test_a_deep_page_says_so_and_links_back_to_the_first(api: Setup) -> None:
    await add_bulk(api)
    cookie = await session(api.client)
    first = (await api.client.get("/console/outbox", headers=cookie)).text
    assert "← First page" not in first
    _, link = keys_and_next(first)
    assert link is not None
    second = (await api.client.get(link, headers=cookie)).text
    assert '<a href="/console/outbox">← First page</a>' in second


@pytest.mark.parametrize(
    "query",
    [
        "after_due=2026-11-23T08:00:00%2B00:00",  # no key
        "after_key=bulk:0001",  # no time
        "after_due=yesterday&after_key=k",
        "after_due=2026-11-23T08:00:00&after_key=k",  # no zone
        "after_due=2026-11-23T08:00:00%2B00:00&after_key=" + "k" * 513,
    ],
)
async def test_a_bad_page_position_is_a_400_page_naming_it(api: Setup, query: str) -> None:
    answer = await api.client.get(f"/console/outbox?{query}", headers=await session(api.client))
    assert answer.status_code == 400
    assert "after_" in answer.text and "<h1>Outbox</h1>" in answer.text
