"""GET /v1/preview, /healthz, /metrics and /openapi.json."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from daemon_support import smtp_config, touchflow
from http_support import (
    AUTH,
    EVENTS,
    HTTP,
    HTTP_CONFIG,
    NOW,
    PUBLIC_URL,
    Setup,
    booking,
    coupon,
    event,
    http_api,
    metric,
)
from smtp_support import Handler, serve
from starlette.routing import Route

from touchflow.errors import StoreError
from touchflow.http.app import create_app
from touchflow.models import Category, OutboxRow, OutboxState
from touchflow.project import load_with_links
from touchflow.send.daemon_planning import PLANNED_UNTIL

# --- preview ------------------------------------------------------------------------


async def test_preview_is_the_json_of_the_preview_command(api: Setup) -> None:
    await api.client.post("/v1/events", json=booking(), headers=AUTH)
    later = {**coupon("X2", expires="NOW+40h"), "at": NOW.isoformat()}
    await api.client.post("/v1/events", json={**later, "data": {
        "coupon_code": "X2", "expires_at": "2026-11-25T00:00:00Z"}}, headers=AUTH)  # fmt: skip
    answer = await api.client.get("/v1/preview?days=3&customer=c1&all=true", headers=AUTH)
    assert answer.status_code == 200
    command = touchflow(
        "preview", "--format", "json", "--days", "3", "--customer", "c1", "--all",
        "--now", NOW.isoformat(), cwd=api.root,
    )  # fmt: skip
    assert answer.json() == json.loads(command.stdout)
    assert {item["key"] for item in answer.json()} == {
        "reminder:c1:a-1:24h-before",
        "coupon:c1:X2:1d-before",
    }


async def test_preview_without_all_shows_only_planned_and_by_rule(api: Setup) -> None:
    await api.client.post("/v1/events", json=booking(), headers=AUTH)
    cancel = event("x1", "appointment_cancelled", appointment_id="a-1")
    await api.client.post("/v1/events", json=cancel, headers=AUTH)
    await api.client.post("/v1/events", json=booking("b2", appointment="a-2"), headers=AUTH)
    planned = (await api.client.get("/v1/preview?rule=reminder", headers=AUTH)).json()
    assert [item["occurrence"] for item in planned] == ["a-2"]
    everything = (await api.client.get("/v1/preview?all=1", headers=AUTH)).json()
    assert {(i["occurrence"], i["reason"]) for i in everything} == {
        ("a-1", "cancelled"),
        ("a-2", None),
    }


async def test_preview_from_a_date_covers_that_whole_day_in_the_project_zone(
    tmp_path: Path,
) -> None:
    berlin = HTTP_CONFIG.replace("timezone: UTC", "timezone: Europe/Berlin")
    async with http_api(tmp_path, config=berlin) as api:
        # Each reminder is due 24 hours before: on 2027-10-31 at 23:30, a day of 25 hours;
        # on 2027-03-28 (23 hours) at 23:30; and just after it, at 00:30 on the 29th.
        for n, starts in enumerate(
            ("2027-11-01T23:30:00+01:00", "2027-03-29T23:30:00+02:00", "2027-03-30T00:30:00+02:00")
        ):
            booked = booking(f"b{n}", appointment=f"a-{n}", starts=starts)
            assert (await api.client.post("/v1/events", json=booked, headers=AUTH)).is_success

        async def local_times(day: str) -> list[str]:
            answer = await api.client.get(f"/v1/preview?now={day}&days=1", headers=AUTH)
            assert answer.status_code == 200, answer.text
            return [item["local_send_at"] for item in answer.json()]

        assert await local_times("2027-10-31") == ["2027-10-31T23:30:00+01:00"]
        assert await local_times("2027-03-28") == ["2027-03-28T23:30:00+02:00"]
        assert await local_times("2027-03-29") == ["2027-03-29T00:30:00+02:00"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("days=0", "days"), ("days=3661", "days"), ("days=two", "days"), ("days=%C2%B2", "days"),
        pytest.param("days=" + "9" * 5000, "days", id="days-5000-digits"),
        ("all=maybe", "all"), ("rule=nope", "rule"),
        ("customer=c9", "customer"), ("day=3", "day"),
        ("now=2026-12-24T09:00", "now"), ("now=tomorrow", "now"), ("now=9999-12-31", "now"),
        ("now=0001-01-01T00:00:00%2B14:00", "now"),
    ],
)  # fmt: skip
async def test_a_bad_preview_query_is_a_422_naming_the_parameter(
    api: Setup, query: str, field: str
) -> None:
    answer = await api.client.get(f"/v1/preview?{query}", headers=AUTH)
    assert answer.status_code == 422
    assert [p["field"] for p in answer.json()["problems"]] == [field]


# --- health -------------------------------------------------------------------------


@asynccontextmanager
async def timers_running(api: Setup) -> AsyncIterator[None]:
    """The daemon's timers running, from when the first `plan` run has written (stopping
    in its BEGIN is another story) until the block ends."""
    planned = await api.store.get_meta(PLANNED_UNTIL)
    running = asyncio.create_task(api.daemon.run_forever(install_signals=False))
    try:
        for _ in range(500):
            if api.daemon.timers() and await api.store.get_meta(PLANNED_UNTIL) != planned:
                break
            await asyncio.sleep(0.01)
        yield
    finally:
        api.daemon.stop()
        await running


async def test_healthz_is_503_until_the_timers_run_and_200_while_they_do(api: Setup) -> None:
    down = await api.client.get("/healthz")
    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert (down.json()["scheduler"], down.json()["timers"]) == ("not running", {})

    async with timers_running(api):
        up = await api.client.get("/healthz")
        assert up.status_code == 200
        assert up.json()["status"] == "ok"
        assert {"plan", "watch", "reclaim"} <= set(up.json()["timers"])
    assert (await api.client.get("/healthz")).status_code == 503


@dataclass
class ServerLead:
    """A daemon's lock on a shared store whose server goes away when told to."""

    instance: str = "web1-4242-beef"
    down: bool = False

    @property
    def shared(self) -> bool:
        return True

    async def lead(self) -> bool:
        if self.down:
            raise StoreError("cannot lock store postgresql://db.internal/shop: connection refused")
        return True


async def health_when(api: Setup, status: int) -> dict[str, Any]:
    """/healthz once it answers ``status`` (the watch timer looks every 2 s)."""
    for _ in range(100):
        answer = await api.client.get("/healthz")
        if answer.status_code == status:
            return dict(answer.json())
        await asyncio.sleep(0.1)
    raise AssertionError(f"/healthz never answered {status}: {answer.json()}")


async def test_healthz_and_metrics_say_the_instance_and_when_the_store_is_out_of_reach(
    tmp_path: Path,
) -> None:
    lead = ServerLead()
    async with http_api(tmp_path, lead=lead) as api, timers_running(api):
        up = await health_when(api, 200)
        assert (up["instance"], up["role"], up["store"]) == (
            "web1-4242-beef", "planner", {"reachable": True},
        )  # fmt: skip
        scraped = (await api.client.get("/metrics")).text
        info = 'touchflow_instance_info{instance="web1-4242-beef",role="planner"}'
        assert (metric(scraped, info), metric(scraped, "touchflow_store_reachable")) == (1, 1)

        lead.down = True  # the server restarts
        down = await health_when(api, 503)
        assert (down["status"], down["role"]) == ("unavailable", "sender")
        assert down["store"]["reachable"] is False
        assert down["store"]["error"].endswith("connection refused")
        assert down["store"]["since"] is not None
        scraped = (await api.client.get("/metrics")).text
        assert metric(scraped, "touchflow_store_reachable") == 0

        lead.down = False  # back: the daemon goes on
        again = await health_when(api, 200)
        assert again["store"] == {"reachable": True}


def outbox_row(key: str, state: OutboxState, reason: str) -> OutboxRow:
    due = NOW - timedelta(hours=2)  # before the plan's window: no re-plan touches it
    return OutboxRow(
        key=key, rule_id="reminder", customer_id="c1", category=Category.TRANSACTIONAL,
        counts_for_caps=True, state=state, due_at=due, expires_at=NOW + timedelta(days=2),
        next_attempt_at=NOW + timedelta(hours=1), reason=reason,
        last_error="what went wrong",
    )  # fmt: skip


async def test_healthz_is_degraded_naming_each_trouble_and_metrics_count_it(api: Setup) -> None:
    booked = await api.client.post("/v1/events", json=booking(customer="c2"), headers=AUTH)
    assert booked.status_code == 201
    await api.settle()
    # Data validation refuses now, planted past it: c2's time zone cannot be loaded.
    with sqlite3.connect(api.store.path) as db:
        db.execute("UPDATE customers SET timezone = 'Mars/Olympus' WHERE id = 'c2'")
    template_failed = outbox_row("reminder:c1:a-7:24h-before", OutboxState.FAILED, "render_error")
    relay_4xx = outbox_row("reminder:c1:a-8:24h-before", OutboxState.RETRY, "temporary_failure")
    once_4xx = outbox_row("reminder:c1:a-9:24h-before", OutboxState.RETRY, "temporary_failure")
    await api.store.write_plan([template_failed, relay_4xx, once_4xx], [], now=NOW)
    with sqlite3.connect(api.store.path) as db:  # three attempts in a row: not weather
        db.execute("UPDATE outbox SET attempts = 3 WHERE key = ?", (relay_4xx.key,))

    async with timers_running(api):
        health = await api.client.get("/healthz")
        scraped = (await api.client.get("/metrics")).text

    assert health.status_code == 200  # everyone else is served: keep it in rotation
    assert health.json()["status"] == "degraded"
    problems = health.json()["problems"]
    assert [(p["reason"], p["customers"]) for p in problems] == [
        ("invalid_data", 1), ("render_error", 1), ("retry", 1),
    ]  # fmt: skip
    assert problems[0]["message"].startswith("1 customer held: their data could not be")
    assert (
        metric(scraped, 'touchflow_touchpoints_by_reason{reason="render_error",state="failed"}')
        == 1
    )
    assert (
        metric(scraped, 'touchflow_touchpoints_by_reason{reason="temporary_failure",state="retry"}')
        == 2
    )
    assert (
        metric(scraped, 'touchflow_touchpoints_by_reason{reason="invalid_data",state="cancelled"}')
        >= 1
    )


# --- metrics ------------------------------------------------------------------------


async def test_metrics_count_touchpoints_sends_latency_and_planning(tmp_path: Path) -> None:
    async with http_api(tmp_path, events=[coupon("X1")]) as api:
        first = (await api.client.get("/metrics")).text
        assert metric(first, 'touchflow_touchpoints{rule="coupon",state="pending"}') == 1
        assert metric(first, 'touchflow_touchpoints{rule="coupon",state="sent"}') == 0
        assert metric(first, "touchflow_outbox_depth") == 1
        assert metric(first, "touchflow_outbox_ready") == 1
        assert metric(first, "touchflow_last_dispatch_timestamp_seconds") == 0

        await api.client.post("/v1/events", json=booking(), headers=AUTH)
        await api.settle()
        await api.daemon.plan_ahead()
        await api.daemon.dispatcher.drain()
        after = (await api.client.get("/metrics")).text
    assert metric(after, 'touchflow_touchpoints{rule="coupon",state="sent"}') == 1
    assert metric(after, 'touchflow_touchpoints{rule="reminder",state="pending"}') == 1
    assert metric(after, "touchflow_outbox_depth") == 1
    assert metric(after, "touchflow_outbox_ready") == 0
    assert metric(after, 'touchflow_send_latency_seconds_count{channel="email"}') == 1
    # Due 12 hours before the daemon's "now": the latency says so.
    assert (
        12 * 3600
        <= metric(after, 'touchflow_send_latency_seconds_sum{channel="email"}')
        < 12 * 3600 + 60
    )
    assert metric(after, "touchflow_last_dispatch_timestamp_seconds") > 0
    assert metric(after, 'touchflow_plan_seconds_count{scope="changed"}') == 1
    assert metric(after, 'touchflow_plan_seconds_count{scope="all"}') == 1


async def test_metrics_count_smtp_errors_by_class(tmp_path: Path) -> None:
    handler = Handler(rcpt=("451 4.3.0 Mailbox busy", "550 5.1.1 No such user"))
    with serve(handler) as port:
        config = smtp_config(port, extra="    connections: 1\n").replace("events:\n", EVENTS)
        async with http_api(tmp_path, config=config + HTTP) as api:
            for n, customer in enumerate(("c1", "c2")):
                body = event(f"q{n}", customer=customer, inquiry_id=f"q-{n}", subject="Hi")
                await api.client.post("/v1/events", json=body, headers=AUTH)
            await api.settle()
            await api.daemon.dispatcher.drain()
            text = (await api.client.get("/metrics")).text
    assert (
        metric(text, 'touchflow_smtp_errors_total{channel="email",class="temporary_failure"}') == 1
    )
    assert metric(text, 'touchflow_smtp_errors_total{channel="email",class="bad_mailbox"}') == 1
    assert metric(text, 'touchflow_send_latency_seconds_count{channel="email"}') == 0


async def test_after_a_restart_the_last_dispatch_time_comes_from_the_store(tmp_path: Path) -> None:
    async with http_api(tmp_path, events=[coupon("X1")]) as api:
        await api.daemon.dispatcher.drain()
    async with http_api(tmp_path, events=[coupon("X1")]) as again:  # same store, new metrics
        text = (await again.client.get("/metrics")).text
    assert metric(text, "touchflow_last_dispatch_timestamp_seconds") > 0
    assert metric(text, 'touchflow_send_latency_seconds_count{channel="email"}') == 0


# --- openapi ------------------------------------------------------------------------


async def test_openapi_documents_every_route_and_is_valid(api: Setup) -> None:
    answer = await api.client.get("/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    schema = schemathesis.openapi.from_dict(document)
    documented = {(op.method.upper(), op.path) for op in _operations(schema)}
    served = set()
    for route in create_app(api.api).routes:
        assert isinstance(route, Route)
        if route.path.startswith("/console"):
            continue  # the web console's HTML pages are no part of the API (docs/console.md)
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        served |= {(method, path) for method in route.methods or () if method != "HEAD"}
    assert served == documented


def _operations(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    operations = []
    for result in schema.get_all_operations():
        operations.append(result.ok())
    return operations


# --- reload ---------------------------------------------------------------------------


async def test_a_reload_follows_public_url_and_refuses_it_without_the_secret(
    api: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    config = api.root / "touchflow.yaml"
    config.write_text(config.read_text().replace(PUBLIC_URL, "https://other.example.com"))
    assert await api.daemon.reload_if_changed(force=True)
    links = api.daemon.project.unsubscribe
    assert links is not None and links.public_url == "https://other.example.com"

    api.daemon._load = functools.partial(load_with_links, environ={})  # the secret is gone
    assert not await api.daemon.reload_if_changed(force=True)
    assert "reload refused: touchflow.yaml: http.public_url is set" in caplog.text
    assert "TOUCHFLOW_UNSUBSCRIBE_SECRET" in caplog.text
    assert api.daemon.project.unsubscribe is links  # the running project stays
