"""The web console's test project and its logging in, shared by the in-process tests
(httpx against the app) and the browser tests (Chromium against `touchflow run`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from daemon_support import ANA
from http_support import BEN

from touchflow.models import OutboxState
from touchflow.store import Store

EVIL = "<script>alert(1)</script>"
EVIL_DATA = "<img src=x onerror=alert(2)>"
EVE: dict[str, Any] = {"id": "c3", "email": "eve@example.com", "first_name": EVIL}
CUSTOMERS = (ANA, BEN, EVE)
FAILED_KEY = "ack:c1:q-1:0"
SERVER_REPLY = "550 5.1.1 <b>no such user</b>"
HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def console_events() -> list[dict[str, Any]]:
    """Ana's inquiry (answered at once: the row made to fail), Ana's booking in two days,
    and Eve's, whose data holds HTML; Ben's booking, cancelled: its reminder is held."""
    at = "{{ at(days=0, time='07:00', tz='UTC') }}"
    starts = "{{ at(days=2, time='12:00', tz='UTC') }}"
    booked = {"appointment_id": "a-1", "starts_at": starts}
    return [
        {"id": "q1", "type": "inquiry_received", "customer": "c1", "at": at,
         "data": {"inquiry_id": "q-1", "subject": "Hi"}},
        {"id": "b1", "type": "appointment_booked", "customer": "c1", "at": at, "data": booked},
        {"id": "b3", "type": "appointment_booked", "customer": "c3", "at": at,
         "data": {"appointment_id": EVIL_DATA, "starts_at": starts}},
        {"id": "b2", "type": "appointment_booked", "customer": "c2", "at": at,
         "data": {"appointment_id": "a-2", "starts_at": starts}},
        {"id": "x2", "type": "appointment_cancelled", "customer": "c2", "at": at,
         "data": {"appointment_id": "a-2"}},
    ]  # fmt: skip


async def make_failed(store: Store, now: datetime, key: str = FAILED_KEY) -> None:
    """``key`` claimed and finished as failed with ``SERVER_REPLY``, as a relay's 550 leaves it."""
    claimed = await store.claim_due(owner="test", now=now, ttl=timedelta(minutes=5), limit=100)
    (row,) = [r for r in claimed if r.key == key]
    failed = replace(row, state=OutboxState.FAILED, reason="bad_mailbox", last_error=SERVER_REPLY)
    assert await store.finish_claim(failed, owner="test", now=now, attempted=True)
    await store.reclaim(now=now, owner="test")  # any other row claimed: ready again


async def counted_page(client: Any, path: str, headers: dict[str, str], wait: float = 30) -> str:
    """The page at ``path`` once its counts are there: a "counting…" page reloads itself
    (``<meta http-equiv="refresh">``), as a browser would, until then."""
    deadline = time.monotonic() + wait
    while 'http-equiv="refresh"' in (text := (await client.get(path, headers=headers)).text):
        assert time.monotonic() < deadline, f"{path} still counting after {wait} s"
        await asyncio.sleep(0.05)
    return text
