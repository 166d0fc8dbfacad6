"""The console's pages at scale, in-process: the outbox's keyset pages, the calendar's
kept forecast (counted off the request path), and the health page's figures."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from console_support import CUSTOMERS, console_events, counted_page, make_failed
from http_support import AUTH, NOW, TOKEN, Setup, booking, http_api
from store_support import outbox_row

from touchflow.console import kept
from touchflow.console.outbox import FAILURES, SHOWN, newest_failures
from touchflow.console.session import COOKIE
from touchflow.models import OutboxState
from touchflow.store import DaemonSession

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


# --- the calendar and the day, counted off the request path ---------------------------

AGAIN = "counting again"


async def settled_page(api: Setup, path: str, cookie: dict[str, str]) -> str:
    """The page once no count of it is under way (neither a first nor a fresh one)."""
    deadline = time.monotonic() + 30
    while AGAIN in (text := await counted_page(api.client, path, cookie)):
        assert time.monotonic() < deadline, f"{path} still counting again"
        await asyncio.sleep(0.05)
    return text


def planned_on(page: str, day: str) -> int:
    found = re.search(rf'href="/console/day/{day}">\s*<span class="date">[^<]*</span>\s*'
                      r'<span class="sends">(\d+) send', page)  # fmt: skip
    assert found, page
    return int(found[1])


@pytest.mark.parametrize("path", ["/console/", "/console/?weeks=2", "/console/day/2026-11-24"])
async def test_the_first_view_says_counting_and_reloads_itself_then_shows_when(
    api: Setup, path: str
) -> None:
    cookie = await session(api.client)
    first = await api.client.get(path, headers=cookie)
    assert first.status_code == 200
    assert '<meta http-equiv="refresh" content="2">' in first.text and "Counting…" in first.text
    page = await counted_page(api.client, path, cookie)
    assert "Counted at 2026-11-23 08:0" in page and "<script" not in page
    again = (await api.client.get(path, headers=cookie)).text
    assert "Counted at" in again and AGAIN not in again  # kept: not counted again


async def test_an_event_the_daemon_planned_makes_the_next_count_fresh(api: Setup) -> None:
    cookie = await session(api.client)
    before = planned_on(await settled_page(api, "/console/", cookie), "2026-11-25")
    day = await settled_page(api, "/console/day/2026-11-25", cookie)
    assert 'href="/console/customers/c2"' not in day
    # Ben books again: his reminder is due on the 25th, planned by the daemon at once.
    ben = booking("b9", customer="c2", appointment="a-9", starts="2026-11-26T12:00:00Z")
    assert (await api.client.post("/v1/events", json=ben, headers=AUTH)).status_code < 300
    await api.settle()
    stale = (await api.client.get("/console/", headers=cookie)).text
    assert AGAIN in stale and planned_on(stale, "2026-11-25") == before  # the old counts
    assert planned_on(await settled_page(api, "/console/", cookie), "2026-11-25") == before + 1
    day = await settled_page(api, "/console/day/2026-11-25", cookie)
    assert 'href="/console/customers/c2"' in day


async def test_a_full_plan_or_age_makes_the_counts_stale(
    api: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie = await session(api.client)
    await settled_page(api, "/console/", cookie)
    await api.daemon.plan_ahead()
    assert api.daemon.last_plan is not None
    assert AGAIN in (await api.client.get("/console/", headers=cookie)).text
    await settled_page(api, "/console/", cookie)
    monkeypatch.setattr(kept, "MAX_AGE", timedelta(0))
    assert AGAIN in (await api.client.get("/console/", headers=cookie)).text


async def test_a_count_that_fails_says_why_and_is_tried_again(
    api: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie = await session(api.client)

    async def broken(*args: object, **kw: object) -> object:
        raise RuntimeError("the planner broke")

    monkeypatch.setattr("touchflow.console.calendar_pages.month", broken)
    page = await counted_page(api.client, "/console/", cookie)
    assert "Counting failed: RuntimeError(&#39;the planner broke&#39;)" in page
    assert (await api.client.get("/console/", headers=cookie)).status_code == 503  # kept a while
    monkeypatch.undo()
    monkeypatch.setattr(kept, "RETRY_FAILED", timedelta(0))
    assert "Counted at" in await counted_page(api.client, "/console/", cookie)


# --- health ---------------------------------------------------------------------------


async def test_health_shows_the_last_full_plan_the_lag_and_the_recent_failures(
    api: Setup,
) -> None:
    late = outbox_row("late:c1", due=NOW - timedelta(minutes=90), rule_id="reminder")
    await api.store.write_plan([late], [], now=NOW)
    page = (await api.client.get("/console/health", headers=await session(api.client))).text
    run = api.daemon.last_plan
    assert run is not None  # the start-up's full plan, kept in the daemon's memory
    assert (
        f"<dt>Last full plan</dt><dd>2026-11-23 08:00: {run.run.customers} customers, "
        f"{run.run.touchpoints} touchpoints ("
    ) in page
    assert "<dt>Ready to send now</dt><dd>1</dd>" in page
    assert "the oldest ready row has waited 1:30:0" in page
    assert (
        '<dt>Failed in the last 24 hours</dt><dd>1 — <a href="/console/outbox?state=failed">'
        in page
    )
    assert "Daemons on this store" not in page  # SQLite: one daemon, itself


async def test_health_lists_the_daemons_sharing_the_store(
    api: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = [
        DaemonSession(name="touchflow run pid 7", address="10.0.0.7", since=NOW, leads=True),
        DaemonSession(name="touchflow run pid 9", address="", since=NOW, leads=False),
    ]

    async def sessions() -> list[DaemonSession]:
        return seen

    monkeypatch.setattr(api.store, "daemon_sessions", sessions)
    page = (await api.client.get("/console/health", headers=await session(api.client))).text
    assert (
        "<td>touchflow run pid 7</td><td>10.0.0.7</td><td>2026-11-23 08:00</td><td>planner</td>"
        in page
    )
    assert "<td>touchflow run pid 9</td><td>this machine (socket)</td>" in page


async def test_the_failures_are_the_newest_failed_and_retrying_rows(api: Setup) -> None:
    rows = [
        outbox_row(f"f:{i:02d}", OutboxState.FAILED if i % 2 else OutboxState.RETRY,
                   due=NOW - timedelta(hours=i // 3))
        for i in range(40)
    ]  # fmt: skip
    await api.store.write_plan(rows, [], now=NOW)
    everything = await api.store.list_outbox(
        states=(OutboxState.FAILED, OutboxState.RETRY), newest_first=True
    )
    found = await newest_failures(api.store)
    assert [r.key for r in found] == [r.key for r in everything[: len(found)]]
    assert len(found) == FAILURES


def sent_count(page: str) -> int:
    found = re.search(r'<a href="/console/outbox\?state=sent">sent</a>: (\d+)', page)
    assert found, page
    return int(found[1])


async def test_the_counts_by_state_are_kept_half_a_minute_then_counted_in_the_background(
    api: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie = await session(api.client)
    first = (await api.client.get("/console/outbox", headers=cookie)).text
    assert "Counted at 2026-11-23 08:0" in first
    await add_bulk(api)  # written past the console: its kept counts do not know
    kept_page = (await api.client.get("/console/outbox", headers=cookie)).text
    assert sent_count(kept_page) == sent_count(first)
    monkeypatch.setattr("touchflow.console.outbox.COUNTS_AGE", timedelta(0))
    await api.client.get("/console/outbox", headers=cookie)  # starts the count
    await asyncio.sleep(0.2)
    later = (await api.client.get("/console/outbox", headers=cookie)).text
    assert sent_count(later) == sent_count(first) + len([i for i in range(BULK) if i % 3])
