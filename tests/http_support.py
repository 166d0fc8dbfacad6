"""The HTTP interface in-process: a real Daemon and SqliteStore, the Starlette app over httpx.

Nothing is faked: the store is a SQLite file, the daemon plans and dispatches
into a Maildir (or a real aiosmtpd), and requests go through the ASGI app
exactly as uvicorn hands them over. Only the scheduler's timers are not
started (tests drive time themselves); `touchflow run` with uvicorn is covered
by tests/acceptance/test_http_run.py.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from daemon_support import ANA, CONFIG, RULES, project_channel, sample_store, write_project

from touchflow.clock import Clock
from touchflow.config.http import read_secrets
from touchflow.http.app import create_app
from touchflow.http.engine import Replanner
from touchflow.http.metrics import Metrics
from touchflow.http.state import Api
from touchflow.models import OutboxRow
from touchflow.project import load_with_links
from touchflow.send.daemon import Daemon
from touchflow.send.instance import Lead
from touchflow.store.sqlite import SqliteStore

TOKEN = "test-api-token-0123456789"
SECRET = "test-unsubscribe-secret-0123456789"
ENV = {"TOUCHFLOW_API_TOKEN": TOKEN, "TOUCHFLOW_UNSUBSCRIBE_SECRET": SECRET}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime.fromisoformat("2026-11-23T08:00:00+00:00")
PUBLIC_URL = "https://touch.example.com"
MAX_BODY = 4096
MAX_BATCH = 3

BEN: dict[str, Any] = {"id": "c2", "email": "Ben@Example.com", "first_name": "Ben"}

# The daemon test project, plus coupons (marketing), a declared event no rule uses, and http.
HTTP = (
    f"http:\n  port: 0\n  public_url: {PUBLIC_URL}\n"
    f"  max_body_bytes: {MAX_BODY}\n  max_batch: {MAX_BATCH}\n"
)
EVENTS = """\
events:
  coupon_issued: {coupon_code: string, expires_at: datetime}
  coupon_redeemed: {coupon_code: string}
  newsletter_opened: {}
"""
HTTP_CONFIG = CONFIG.replace("events:\n", EVENTS) + HTTP
HTTP_RULES = (
    RULES
    + """
- id: coupon
  category: marketing
  trigger:
    event: coupon_issued
    anchor: event.data.expires_at
    occurrence: event.data.coupon_code
  cancel_on: [coupon_redeemed]
  send: 1 day before
  action: {template: coupon}
"""
)
COUPON_TEMPLATES = {
    "coupon/subject.txt": "Your coupon {{ event.data.coupon_code }} expires soon",
    "coupon/body.txt": "Hello {{ customer.first_name }}, use it before it expires.",
}


def write_http_project(
    root: Path,
    *,
    customers: Sequence[dict[str, Any]] = (ANA, BEN),
    events: Sequence[dict[str, Any]] = (),
    config: str = HTTP_CONFIG,
) -> Path:
    write_project(root, customers=list(customers), events=events, rules=HTTP_RULES, config=config)
    for name, text in COUPON_TEMPLATES.items():
        (root / "message_templates" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "message_templates" / name).write_text(text, encoding="utf-8")
    return root


def coupon(code: str = "X1", *, customer: str = "c1", expires: str = "NOW+12h") -> dict[str, Any]:
    """coupon_issued at NOW - 1 day; its reminder is due a day before it expires."""
    hours = int(expires.removeprefix("NOW+").removesuffix("h"))
    return {
        "id": f"coupon-{code}",
        "type": "coupon_issued",
        "customer": customer,
        "at": "{{ at(days=-1, time='08:00', tz='UTC') }}",
        "data": {
            "coupon_code": code,
            "expires_at": f"{{{{ at(days=0, time='08:00', tz='UTC', hours={hours}) }}}}",
        },
    }


def tables(store_file: Path, names: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of these tables, read past the store by a connection of its own; sorted,
    so that two reads compare equal when the rows are the same."""
    with sqlite3.connect(store_file) as db:
        return {
            table: sorted(db.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in names
        }


@dataclass
class Setup:
    client: httpx.AsyncClient
    api: Api
    daemon: Daemon
    store: SqliteStore
    root: Path

    async def settle(self) -> None:
        """Wait for the re-plan a write asked for."""
        await self.api.replanner.idle()

    async def rows(self, customer: str | None = None) -> dict[str, OutboxRow]:
        return {r.key: r for r in await self.store.list_outbox(customer_id=customer)}

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table a request may write, read by a second connection: for "changed nothing"."""
        return tables(self.store.path, ("customers", "events", "suppressions", "outbox", "changes"))

    def maildir(self) -> list[Path]:
        folder = self.root / ".touchflow" / "maildir" / "new"
        return sorted(folder.iterdir()) if folder.is_dir() else []


@asynccontextmanager
async def http_api(
    tmp_path: Path,
    *,
    customers: Sequence[dict[str, Any]] = (ANA, BEN),
    events: Sequence[dict[str, Any]] = (),
    config: str = HTTP_CONFIG,
    now: datetime = NOW,
    lead: Lead | None = None,
) -> AsyncIterator[Setup]:
    """The daemon's HTTP app on a fresh project, planned once at ``now``; ``lead``: the
    daemon's lock on its store (default: alone on it)."""
    root = write_http_project(tmp_path, customers=customers, events=events, config=config)
    project = load_with_links(root, ENV)
    async with project_channel(project) as channel, sample_store(project, now) as store:
        daemon = Daemon(
            project=project, store=store, channel=channel, clock=Clock.starting_at(now),
            load=functools.partial(load_with_links, environ=ENV), lead=lead,
        )  # fmt: skip
        await daemon.start_up()
        api = Api(
            engine=daemon,
            secrets=read_secrets(ENV),
            replanner=Replanner(daemon),
            metrics=Metrics(daemon),
        )
        api.metrics.install()
        transport = httpx.ASGITransport(app=create_app(api))
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://touchflow.test"
            ) as client:
                yield Setup(client=client, api=api, daemon=daemon, store=store, root=root)
        finally:
            await api.replanner.idle()
            api.metrics.uninstall()


def event(
    id_: str, type_: str = "inquiry_received", *, customer: str = "c1", **data: Any
) -> dict[str, Any]:
    """An event as a client posts it, at NOW."""
    return {"id": id_, "type": type_, "customer": customer, "at": NOW.isoformat(), "data": data}


def booking(
    id_: str = "b1",
    *,
    customer: str = "c1",
    appointment: str = "a-1",
    starts: str = "2026-11-24T12:00:00Z",
) -> dict[str, Any]:
    """Appointment ``appointment`` starting at ``starts``: its reminder is due 24 h before."""
    data = {"appointment_id": appointment, "starts_at": starts}
    return event(id_, "appointment_booked", customer=customer, **data)


# --- reading answers --------------------------------------------------------------


def problems(response: httpx.Response) -> list[tuple[int | None, str | None]]:
    """``(index, field)`` of each problem an error answer names."""
    return [(p["index"], p["field"]) for p in response.json()["problems"]]


def metric(text: str, name: str) -> float:
    """The value of one sample line of /metrics, e.g. ``touchflow_outbox_depth`` or ``x{a="b"}``."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {name} in\n{text}")
