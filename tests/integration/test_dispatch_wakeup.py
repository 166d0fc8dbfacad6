"""Nothing due waits for a timer: `touchflow run` sends a row the moment it is due.

A real daemon process on a real port, a real SMTP server (aiosmtpd) that takes
its time, events posted over HTTP or recorded by another process. The bounds
are far below ``daemon.replan_every`` (15 minutes), the only timer that used to
find rows that became due while a dispatch was running.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from daemon_support import (
    ACK_ONLY,
    ANA,
    DaemonProcess,
    poll,
    smtp_config,
    touchflow,
    write_project,
)
from http_support import AUTH, ENV
from smtp_support import TimedHandler, serve

from touchflow.store.values import utc_text

RELAY_SECONDS = 0.3  # a slow relay: each message takes this long to be accepted


@dataclass
class Running:
    process: DaemonProcess
    url: str
    handler: TimedHandler

    def wait_for_subjects(self, subjects: set[str], timeout: float) -> None:
        poll(lambda: subjects <= set(self.handler.arrived), timeout=timeout, every=0.01)


@pytest.fixture
def relay_delay() -> float:
    """Seconds the SMTP server takes to accept a message (a test may parametrize it)."""
    return 0.0


@pytest.fixture
def daemon(tmp_path: Path, relay_delay: float) -> Iterator[Running]:
    """`touchflow run` with HTTP on a free port, sending to a real SMTP server."""
    handler = TimedHandler(delay=relay_delay)
    with serve(handler) as port:
        config = smtp_config(port) + "http:\n  port: 0\n"
        project = write_project(tmp_path, customers=[ANA], rules=ACK_ONLY, config=config)
        process = DaemonProcess(project, env=ENV).start()
        try:
            url = process.http_url(timeout=60)
            process.wait_for("touchflow is running", timeout=60)
            yield Running(process=process, url=url, handler=handler)
        finally:
            assert process.stop() == 0, process.log()


def inquiry_event(n: int) -> dict[str, Any]:
    """Inquiry q-<n> from Ana, received a second ago: its acknowledgement is due at once."""
    at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    data = {"inquiry_id": f"q-{n}", "subject": f"question {n}"}
    return {"id": f"q{n}", "type": "inquiry_received", "customer": "c1", "at": at, "data": data}


def subject(n: int) -> str:
    return f"We got your question: question {n}"


@pytest.mark.parametrize("relay_delay", [RELAY_SECONDS], ids=["slow-relay"])
def test_events_arriving_during_a_slow_dispatch_are_all_sent_within_seconds(
    daemon: Running,
) -> None:
    # Ten inquiries back to back: the first one's dispatch is still talking to the slow
    # relay when the other nine become due. They used to wait for `replan_every`.
    started = time.monotonic()
    with httpx.Client(base_url=daemon.url, timeout=10) as client:
        for n in range(10):
            answer = client.post("/v1/events", json=inquiry_event(n), headers=AUTH)
            assert answer.status_code == 201
    wanted = {subject(n) for n in range(10)}
    daemon.wait_for_subjects(wanted, timeout=15)
    missing = wanted - set(daemon.handler.arrived)
    assert not missing, f"not sent within 15 s: {sorted(missing)}\n{daemon.process.log()}"
    last = max(daemon.handler.arrived.values()) - started
    # Ten messages one after another take 3 s at the relay; the rest is planning and HTTP.
    print(f"\nten acknowledgements through a {RELAY_SECONDS} s relay: the last after {last:.2f} s")
    assert last < 10, f"the last acknowledgement took {last:.1f} s"
    assert "skipped" not in daemon.process.log()


def test_an_acknowledgement_reaches_the_server_promptly_after_its_event(
    daemon: Running,
) -> None:
    # The promise of an inquiry acknowledgement: a prompt answer. On an idle daemon the
    # time from POST /v1/events to the message at the server is measured 20 times.
    latencies = []
    with httpx.Client(base_url=daemon.url, timeout=10) as client:
        for n in range(20):
            posted = time.monotonic()
            answer = client.post("/v1/events", json=inquiry_event(n), headers=AUTH)
            assert answer.status_code == 201
            daemon.wait_for_subjects({subject(n)}, timeout=10)
            assert subject(n) in daemon.handler.arrived, daemon.process.log()
            latencies.append(daemon.handler.arrived[subject(n)] - posted)
    latencies.sort()
    shown = ", ".join(f"{s:.3f}" for s in latencies)
    print(f"\nPOST /v1/events → message at the server, 20 events (s): {shown}")
    # The target is p99 under 2 s; the median well under it (measured: see
    # docs/operations.md). Bounds that a busy 2-core CI machine still meets.
    assert statistics.median(latencies) < 0.5, shown
    assert latencies[-1] < 2.0, shown


def test_an_event_recorded_by_another_process_is_sent_within_watch_every(
    daemon: Running,
) -> None:
    # `touchflow event` writes the store directly; the daemon sees the change on its next
    # `watch` tick (daemon.watch_every, 2 s) and sends at once.
    data = '{"inquiry_id": "q-cli", "subject": "from the shell"}'
    now = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    started = time.monotonic()
    touchflow(
        "event", "inquiry_received", "--customer", "c1", "--at", now, "--data", data,
        cwd=daemon.process.project,
    )  # fmt: skip
    wanted = "We got your question: from the shell"
    daemon.wait_for_subjects({wanted}, timeout=10)
    assert wanted in daemon.handler.arrived, daemon.process.log()
    assert daemon.handler.arrived[wanted] - started < 2 + 3  # watch_every, and the CLI's start


def test_a_row_made_ready_without_noting_a_change_is_sent_within_watch_every(
    daemon: Running,
) -> None:
    # The store is the truth, not the timer: a row a script re-queued with sqlite3 (no
    # `changes` entry, nothing to re-plan) is found by the next `watch` tick all the same.
    with httpx.Client(base_url=daemon.url, timeout=10) as client:
        answer = client.post("/v1/events", json=inquiry_event(1), headers=AUTH)
        assert answer.status_code == 201
    daemon.wait_for_subjects({subject(1)}, timeout=10)
    daemon.process.wait_for("dispatched: 1 sent")
    daemon.handler.arrived.clear()
    now = utc_text(datetime.now(UTC))
    store = daemon.process.project / ".touchflow" / "store.sqlite3"
    started = time.monotonic()
    with sqlite3.connect(store) as db:
        changed = db.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = ?, sent_at = NULL "
            "WHERE key = 'ack:c1:q-1:0' AND state = 'sent'",
            (now,),
        ).rowcount
    assert changed == 1
    daemon.wait_for_subjects({subject(1)}, timeout=10)
    assert subject(1) in daemon.handler.arrived, daemon.process.log()
    assert daemon.handler.arrived[subject(1)] - started < 2 + 1  # watch_every, and slack
