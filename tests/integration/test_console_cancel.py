"""The console's Cancel button (issue 18): a pending touchpoint cancelled by hand, with the
form's CSRF token, logged; the plan keeps it cancelled; Retry lifts it. A row being sent
or already ended is refused, saying why; without the token nothing changes."""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from console_support import CUSTOMERS, FAILED_KEY, console_events, make_failed
from http_support import NOW, Setup, http_api
from test_console import csrf_of, session

from touchflow.models import CANCELLED_BY_HAND, OutboxState

REMINDER = "reminder:c1:a-1:24h-before"  # Ana's reminder: pending, due tomorrow
CANCEL_FORM = (
    '<form method="post" action="/console/outbox/cancel" class="inline">\n'
    '  <input type="hidden" name="csrf" value="{csrf}">\n'
    '  <input type="hidden" name="key" value="{key}">'
)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Setup]:
    async with http_api(tmp_path, customers=CUSTOMERS, events=console_events()) as setup:
        await make_failed(setup.store, NOW)
        yield setup


async def cancel(api: Setup, cookie: dict[str, str], key: str, token: str) -> httpx.Response:
    return await api.client.post(
        "/console/outbox/cancel", data={"key": key, "csrf": token}, headers=cookie
    )


async def test_the_outbox_and_customer_pages_offer_cancel_on_pending_rows_only(
    api: Setup,
) -> None:
    cookie = await session(api.client)
    page = (await api.client.get("/console/outbox", headers=cookie)).text
    token = csrf_of(page)
    assert CANCEL_FORM.format(csrf=token, key=REMINDER) in page
    assert f'aria-label="Cancel {FAILED_KEY}"' not in page  # failed: Retry, not Cancel
    assert f'aria-label="Retry {FAILED_KEY}"' in page
    customer = (await api.client.get("/console/customers/c1", headers=cookie)).text
    assert f'aria-label="Cancel {REMINDER}"' in customer


async def test_cancel_holds_the_row_logs_it_and_the_plan_keeps_it(
    api: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    cookie = await session(api.client)
    token = csrf_of((await api.client.get("/console/outbox", headers=cookie)).text)
    with caplog.at_level(logging.INFO, logger="touchflow"):
        answer = await cancel(api, cookie, REMINDER, token)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/outbox?cancelled={REMINDER.replace(':', '%3A')}"
    row = (await api.rows())[REMINDER]
    assert (row.state, row.reason) == (OutboxState.CANCELLED, CANCELLED_BY_HAND)
    assert row.last_error == "cancelled by hand in the console at 2026-11-23 08:00 UTC"
    (record,) = [r for r in caplog.records if "console: cancelled" in r.getMessage()]
    assert record.getMessage() == f"console: cancelled {REMINDER} (was pending) from 127.0.0.1"
    assert record.tf == {  # type: ignore[attr-defined]
        "event": "cancel",
        "key": REMINDER,
        "client": "127.0.0.1",
    }
    shown = await api.client.get(answer.headers["location"], headers=cookie)
    assert f"Cancelled {REMINDER} by hand" in shown.text
    await api.daemon.plan_ahead()  # the rules still send it: the person's word holds
    assert (await api.rows())[REMINDER] == row
    story = html.unescape((await api.client.get("/console/customers/c1", headers=cookie)).text)
    assert (
        "Outbox: cancelled by hand (<code>cancelled_by_hand</code>): cancelled by hand in the "
        "console at 2026-11-23 08:00 UTC" in story
    )
    assert "Stopped by: cancelled: not sent: cancelled by hand; the plan keeps it so" in story
    assert f'aria-label="Retry {REMINDER}"' in story and f"Cancel {REMINDER}" not in story
    retried = await api.client.post(
        "/console/outbox/retry", data={"key": REMINDER, "csrf": token}, headers=cookie
    )
    assert retried.status_code == 303
    await api.settle()
    after = (await api.rows())[REMINDER]
    assert (after.state, after.reason) == (OutboxState.PENDING, "requeued")


async def test_cancel_without_the_csrf_token_changes_nothing(api: Setup) -> None:
    cookie = await session(api.client)
    before = api.snapshot()
    for data in ({"key": REMINDER}, {"key": REMINDER, "csrf": "0" * 64}):
        answer = await api.client.post("/console/outbox/cancel", data=data, headers=cookie)
        assert answer.status_code == 403
        assert "CSRF token is missing or wrong" in answer.text
    assert api.snapshot() == before


@pytest.mark.parametrize(
    ("key", "status", "words"),
    [
        (FAILED_KEY, 409, f"{FAILED_KEY} is failed: it failed for good"),
        ("nope:c1:x:0", 404, "no touchpoint &#39;nope:c1:x:0&#39; in the outbox"),
    ],
    ids=["failed", "unknown"],
)
async def test_a_row_that_cannot_be_cancelled_is_refused_saying_why(
    api: Setup, key: str, status: int, words: str
) -> None:
    cookie = await session(api.client)
    token = csrf_of((await api.client.get("/console/outbox", headers=cookie)).text)
    before = api.snapshot()
    answer = await cancel(api, cookie, key, token)
    assert answer.status_code == status
    assert words in answer.text
    assert api.snapshot() == before


async def test_a_row_being_sent_is_refused_with_a_conflict(api: Setup) -> None:
    cookie = await session(api.client)
    token = csrf_of((await api.client.get("/console/outbox", headers=cookie)).text)
    later, ttl = NOW + timedelta(days=2), timedelta(minutes=5)  # the reminder is due by then
    await api.store.claim_due(owner="sender-1", now=later, ttl=ttl, limit=100)
    assert (await api.rows())[REMINDER].state is OutboxState.CLAIMED
    answer = await cancel(api, cookie, REMINDER, token)
    assert answer.status_code == 409
    assert "is claimed: it is being sent right now (claimed by sender-1)" in answer.text
    assert (await api.rows())[REMINDER].state is OutboxState.CLAIMED
