"""The web console in-process: login and its cookie, the guard, CSRF, escaping, headers.

The daemon's real app over httpx (tests/http_support.py). httpx keeps no ``Secure``
cookie for an http:// address, so the tests carry the session cookie themselves; the
browser tests (tests/acceptance/test_console_browser.py) show Chromium keeping it on
http://127.0.0.1.
"""

from __future__ import annotations

import html
import logging
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from console_support import (
    CUSTOMERS,
    EVIL,
    EVIL_DATA,
    FAILED_KEY,
    HEADERS,
    SERVER_REPLY,
    console_events,
    counted_page,
    make_failed,
)
from http_support import NOW, TOKEN, Setup, http_api

from touchflow.console.session import COOKIE
from touchflow.console.throttle import FAILS, WINDOW
from touchflow.models import OutboxState, Suppression, SuppressionScope

PAGES = [
    "/console/",
    "/console/?weeks=2",
    "/console/?weeks=2&by=rule",
    "/console/day/2026-11-24",
    "/console/day/2026-11-24?by=rule",
    "/console/day/2026-11-25",
    "/console/outbox",
    "/console/outbox?state=failed",
    "/console/outbox?rule=reminder&customer=c3",
    "/console/customers",
    "/console/customers?q=%3Cscript%3Ealert(1)%3C/script%3E%40x",  # no one: shown back
    "/console/customers/c1",
    "/console/customers/c2",
    "/console/customers/c3",
    "/console/rules",
    "/console/health",
]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Setup]:
    async with http_api(tmp_path, customers=CUSTOMERS, events=console_events()) as setup:
        await make_failed(setup.store, NOW)
        yield setup


async def login(client: httpx.AsyncClient, token: str = TOKEN) -> httpx.Response:
    return await client.post("/console/login", data={"token": token})


async def session(client: httpx.AsyncClient) -> dict[str, str]:
    """The Cookie header of a fresh session."""
    answer = await login(client)
    assert answer.status_code == 303, answer.text
    return {"Cookie": f"{COOKIE}={answer.cookies[COOKIE]}"}


def csrf_of(page: str) -> str:
    start = page.index('name="csrf" value="') + len('name="csrf" value="')
    return page[start : page.index('"', start)]


async def test_an_address_that_gives_wrong_tokens_again_and_again_waits(
    api: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(FAILS):
        assert (await login(api.client, token="guess")).status_code == 401
    answer = await login(api.client, token="guess again")
    assert answer.status_code == 429 and COOKIE not in answer.headers.get("set-cookie", "")
    assert 1 <= int(answer.headers["retry-after"]) <= WINDOW
    assert "Too many wrong tokens from 127.0.0.1: try again in" in answer.text
    assert caplog.text.count("logins from 127.0.0.1 wait: 5 wrong tokens in 60 s") == 1
    assert caplog.text.count("a login with a wrong token from 127.0.0.1") == FAILS
    # The right token still logs in: a guesser sharing the address locks no one out.
    assert (await login(api.client)).status_code == 303
    assert (await login(api.client, token="guess")).status_code == 401  # failures forgotten


async def test_login_sets_a_session_cookie_that_is_not_the_token(api: Setup) -> None:
    form = await api.client.get("/console/login")
    assert form.status_code == 200
    assert '<label for="token">' in form.text
    answer = await login(api.client)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"
    header = answer.headers["set-cookie"]
    cookie = SimpleCookie(header)[COOKIE]
    assert cookie["httponly"] and cookie["secure"]
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/console"
    assert TOKEN not in header and len(cookie.value) >= 40
    again = await login(api.client)  # each login a session of its own
    assert again.cookies[COOKIE] != cookie.value


@pytest.mark.parametrize("token", ["", "wrong", TOKEN + "x", TOKEN[:-1]])
async def test_a_wrong_token_gets_no_cookie(api: Setup, token: str) -> None:
    answer = await login(api.client, token)
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    assert 'role="alert">That is not the daemon&#39;s TOUCHFLOW_API_TOKEN' in answer.text


@pytest.mark.parametrize("path", PAGES)
async def test_without_a_live_session_every_page_sends_to_the_login(api: Setup, path: str) -> None:
    for headers in ({}, {"Cookie": f"{COOKIE}=forged"}, {"Authorization": f"Bearer {TOKEN}"}):
        answer = await api.client.get(path, headers=headers)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/login"
        assert answer.headers["content-security-policy"] == HEADERS["content-security-policy"]


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_escapes_customer_data_and_carries_the_headers(
    api: Setup, path: str
) -> None:
    answer = await api.client.get(path, headers=await session(api.client))
    assert answer.status_code == 200, answer.text
    assert {k: answer.headers[k] for k in HEADERS} == HEADERS
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    page = answer.text
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    if path == "/console/customers/c3":
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" == html.escape(EVIL)
        assert html.escape(EVIL) in page  # the name, shown
        assert html.escape(EVIL_DATA) in page  # the event's data, shown
    if path == "/console/outbox?state=failed":
        assert html.escape(SERVER_REPLY) in page  # the server's reply


async def test_the_stylesheet_is_served_with_the_same_headers(api: Setup) -> None:
    answer = await api.client.get("/console/console.css")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")
    assert {k: answer.headers[k] for k in HEADERS} == HEADERS
    assert ":focus-visible" in answer.text


async def test_the_pages_show_the_forecast_the_outbox_and_the_why(api: Setup) -> None:
    cookie = await session(api.client)
    calendar = await counted_page(api.client, "/console/", cookie)
    assert 'href="/console/day/2026-11-24"' in calendar
    assert "<code>cancelled</code>: 1" in calendar  # Ben's reminder, held
    day = await counted_page(api.client, "/console/day/2026-11-24", cookie)
    assert "reminder" in day and 'href="/console/customers/c1"' in day
    outbox = (await api.client.get("/console/outbox", headers=cookie)).text
    assert f'name="key" value="{FAILED_KEY}"' in outbox
    assert '<th scope="col">Channel</th>' in outbox and "<td>email</td>" in outbox
    ben = (await api.client.get("/console/customers/c2", headers=cookie)).text
    assert "reminder:c2:a-2:24h-before" in ben
    assert "Stopped by: cancelled by appointment_cancelled event x2" in ben
    assert "(rules/rules.yaml:1)" in ben  # the rule's file:line
    found = await api.client.get("/console/customers?q=Ben@example.com", headers=cookie)
    assert found.headers["location"] == "/console/customers/c2"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/console/customers/nobody", 404),
        ("/console/day/2026-13-01", 404),
        ("/console/day/2026-11-01", 404),
        ("/console/?weeks=0", 400),
        ("/console/outbox?state=lost", 400),
        ("/console/nowhere", 404),
        ("/console/outbox/retry", 404),  # only POSTed to
    ],
)
async def test_a_bad_address_is_a_page_that_says_so(api: Setup, path: str, status: int) -> None:
    answer = await api.client.get(path, headers=await session(api.client))
    assert answer.status_code == status
    assert 'class="problem"' in answer.text
    assert answer.headers["content-security-policy"] == HEADERS["content-security-policy"]


async def test_a_retry_without_the_right_csrf_token_changes_nothing(api: Setup) -> None:
    cookie = await session(api.client)
    before = api.snapshot()
    form = {"key": FAILED_KEY}
    for data, headers, status in [
        (form, cookie, 403),  # no CSRF token
        ({**form, "csrf": "0" * 64}, cookie, 403),  # a wrong one
        ({**form, "csrf": csrf_of((await api.client.get("/console/", headers=cookie)).text)},
         {}, 303),  # the right one, but no session: to the login
    ]:  # fmt: skip
        answer = await api.client.post("/console/outbox/retry", data=data, headers=headers)
        assert answer.status_code == status
        await api.settle()
        assert api.snapshot() == before
    other = await session(api.client)  # another session's token does not fit this one
    token = csrf_of((await api.client.get("/console/", headers=other)).text)
    answer = await api.client.post(
        "/console/outbox/retry", data={**form, "csrf": token}, headers=cookie
    )
    assert answer.status_code == 403
    assert api.snapshot() == before


async def test_retry_requeues_the_failed_send_and_logs_it(
    api: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    cookie = await session(api.client)
    token = csrf_of((await api.client.get("/console/outbox", headers=cookie)).text)
    assert (await api.rows())[FAILED_KEY].state is OutboxState.FAILED
    with caplog.at_level(logging.INFO, logger="touchflow"):
        answer = await api.client.post(
            "/console/outbox/retry", data={"key": FAILED_KEY, "csrf": token}, headers=cookie
        )
        await api.settle()
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/outbox?retried={FAILED_KEY.replace(':', '%3A')}"
    row = (await api.rows())[FAILED_KEY]
    assert row.state in (OutboxState.PENDING, OutboxState.SENT)
    assert row.state is OutboxState.SENT or row.reason == "requeued"
    assert f"console: re-queued {FAILED_KEY} (was failed: bad_mailbox)" in caplog.text
    shown = await api.client.get(answer.headers["location"], headers=cookie)
    assert f"Re-queued {FAILED_KEY}" in shown.text
    # A pending row is not re-queued: the page says why, nothing changes.
    before = api.snapshot()
    again = await api.client.post(
        "/console/outbox/retry", data={"key": "reminder:c1:a-1:24h-before", "csrf": token},
        headers=cookie,
    )  # fmt: skip
    assert again.status_code == 409
    assert api.snapshot() == before


async def test_logout_ends_the_session(api: Setup) -> None:
    cookie = await session(api.client)
    token = csrf_of((await api.client.get("/console/", headers=cookie)).text)
    assert (await api.client.post("/console/logout", data={}, headers=cookie)).status_code == 403
    out = await api.client.post("/console/logout", data={"csrf": token}, headers=cookie)
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert f'{COOKIE}=""' in out.headers["set-cookie"]
    answer = await api.client.get("/console/", headers=cookie)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


async def test_the_json_api_does_not_take_the_console_cookie(api: Setup) -> None:
    cookie = await session(api.client)
    assert (await api.client.get("/v1/customers/c1/why", headers=cookie)).status_code == 401


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Ops", "-c", "user.email=ops@example.com", *args],
        cwd=root, check=True, capture_output=True,
    )  # fmt: skip


async def test_the_rules_page_shows_the_diff_against_head(api: Setup) -> None:
    cookie = await session(api.client)
    page = await counted_page(api.client, "/console/rules", cookie)
    assert "No diff against HEAD:" in page and "git" in page  # no repository: said, not failed
    assert "<td>reminder</td><td>transactional</td><td>rules/rules.yaml:1</td>" in page
    # HEAD sends the reminder 48 hours before; the daemon runs the files as they were.
    rules = api.root / "rules" / "rules.yaml"
    running = rules.read_text(encoding="utf-8")
    rules.write_text(running.replace("24 hours before", "48 hours before"), encoding="utf-8")
    (api.root / ".gitignore").write_text(".touchflow/\n")
    git(api.root, "init", "-q")
    git(api.root, "add", "-A")
    git(api.root, "commit", "-qm", "48 hours")
    rules.write_text(running, encoding="utf-8")
    page = await counted_page(api.client, "/console/rules", cookie)
    assert "Comparing the running version with HEAD" in page
    assert "reminder:c1:a-1:24h-before · c1 · added" in page
    assert "reminder:c1:a-1:48h-before · c1 · no longer sent" in page
    assert "reminder:c3:%3Cimg%20src" in page and "<img" not in page  # Eve's key, quoted
    unknown = await api.client.get("/console/rules?base=nosuchrev", headers=cookie)
    assert unknown.status_code == 200 and "No diff against nosuchrev:" in unknown.text


async def test_the_rules_pages_counts_are_kept_until_head_names_another_commit(
    api: Setup,
) -> None:
    cookie = await session(api.client)
    (api.root / ".gitignore").write_text(".touchflow/\n")
    git(api.root, "init", "-q")
    git(api.root, "add", "-A")
    git(api.root, "commit", "-qm", "as running")
    first = await api.client.get("/console/rules", headers=cookie)
    assert '<meta http-equiv="refresh" content="2">' in first.text
    assert "Counting the diff against HEAD…" in first.text and "counting…</td>" in first.text
    assert "<td>reminder</td><td>transactional</td><td>rules/rules.yaml:1</td>" in first.text
    page = await counted_page(api.client, "/console/rules", cookie)
    assert "<strong>No change</strong>" in page and "Counted at" in page
    again = (await api.client.get("/console/rules", headers=cookie)).text
    assert "http-equiv" not in again and "counting again" not in again  # kept
    # A commit moves HEAD: the diff against the new HEAD is counted, not the kept one shown.
    rules = api.root / "rules" / "rules.yaml"
    running = rules.read_text(encoding="utf-8")
    rules.write_text(running.replace("24 hours before", "48 hours before"), encoding="utf-8")
    git(api.root, "commit", "-qam", "48 hours")
    rules.write_text(running, encoding="utf-8")
    assert (
        "Counting the diff against HEAD…"
        in (await api.client.get("/console/rules", headers=cookie)).text
    )
    page = await counted_page(api.client, "/console/rules", cookie)
    assert "reminder:c1:a-1:24h-before · c1 · added" in page


async def test_the_health_page_says_what_healthz_says(api: Setup) -> None:
    page = (await api.client.get("/console/health", headers=await session(api.client))).text
    # In-process the scheduler's timers are not started: /healthz answers 503 then too.
    assert (await api.client.get("/healthz")).json()["status"] == "unavailable"
    assert "The daemon is <strong>unavailable</strong>" in page
    assert api.daemon.standing.instance in page and "(planner)" in page
    assert f"{api.store.path}: answers" in page
    assert "<dt>Next due</dt><dd>2026-11-23 09:00</dd>" in page  # late-ok, 2 hours after


async def test_the_customer_page_lists_the_suppressions_of_the_address_and_the_number(
    api: Setup,
) -> None:
    ana = await api.store.get_customer("c1")
    assert ana is not None and ana.email
    await api.store.upsert_customers([replace(ana, phone="+4915112345678")])
    for address, reason in ((ana.email, "asked by phone"), ("+4915112345678", "texted STOP")):
        entry = Suppression(email=address, scope=SuppressionScope.ALL, reason=reason)
        await api.store.add_suppression(entry)
    page = (await api.client.get("/console/customers/c1", headers=await session(api.client))).text
    section = html.unescape(page.split('id="sup-h"', 1)[1].split("</section>", 1)[0])
    assert f"{ana.email}: all: asked by phone" in section
    assert "+4915112345678: all: texted STOP" in section
