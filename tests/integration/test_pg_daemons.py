"""Two `touchflow run` on one PostgreSQL store, as an operator runs them: one plans and
both send; a write to either is acted on within a second (LISTEN/NOTIFY: the watch timer
is set a minute off, so only a notification explains it); the lead moves to the other
when its holder stops; a daemon whose connections are cut makes them again and goes on.

Real processes, the machine's PostgreSQL, a real SMTP server. The three-daemon and
SIGKILL proofs are tests/integration/test_many_daemons.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from daemon_support import ACK_ONLY, ANA, DaemonProcess, poll, smtp_config, write_project
from http_support import AUTH, ENV
from pg_support import server_url
from smtp_support import Handler, serve

# Within this, or the notification did not work: the watch timer looks once a minute.
PROMPTLY = 5.0


def inquiry_event(n: int) -> dict[str, Any]:
    """Inquiry q-<n> from Ana, a second ago: its acknowledgement is due at once."""
    at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    data = {"inquiry_id": f"q-{n}", "subject": f"question {n}"}
    return {"id": f"q{n}", "type": "inquiry_received", "customer": "c1", "at": at, "data": data}


def post_and_wait(daemon: DaemonProcess, handler: Handler, n: int) -> float:
    """POST inquiry ``n`` to ``daemon``; seconds until its acknowledgement reached the server."""
    posted = time.monotonic()
    with httpx.Client(base_url=daemon.http_url(), timeout=10) as client:
        answer = client.post("/v1/events", json=inquiry_event(n), headers=AUTH)
    assert answer.status_code == 201, answer.text
    wanted = f"question {n}".encode()
    arrived = poll(lambda: any(wanted in body for _, _, body in handler.received), timeout=30)
    assert arrived, f"inquiry {n} not acknowledged within 30 s:\n{daemon.log()}"
    return time.monotonic() - posted


def health(daemon: DaemonProcess) -> dict[str, Any]:
    return dict(httpx.get(f"{daemon.http_url()}/healthz", timeout=10).json())


def test_one_plans_both_send_and_the_lead_moves_when_its_holder_stops(
    tmp_path: Path, url: str
) -> None:
    handler = Handler()
    with serve(handler) as port:
        config = smtp_config(port) + "http:\n  port: 0\n"
        config = config.replace("daemon:\n", "daemon:\n  watch_every: 1 minute\n")
        project = write_project(tmp_path, customers=[ANA], rules=ACK_ONLY, config=config)
        env = {**ENV, "TOUCHFLOW_STORE_URL": url}
        first = DaemonProcess(project, env=env).start()
        second = DaemonProcess(project, env=env)
        try:
            assert "(planner)" in first.wait_for("touchflow is running as instance")
            second.start()
            assert "(sender)" in second.wait_for("touchflow is running as instance")
            roles = {health(first)["role"], health(second)["role"]}
            assert roles == {"planner", "sender"}
            assert health(first)["instance"] != health(second)["instance"]

            # An event posted to the sender: the planner hears of it and plans it.
            assert post_and_wait(second, handler, 1) < PROMPTLY

            assert first.stop() == 0, first.log()
            # The next write to the one left: it takes the lead and plans it.
            assert post_and_wait(second, handler, 2) < PROMPTLY
            second.wait_for("plans (it holds the lead)", timeout=10)
            assert health(second)["role"] == "planner"

            # Its connections cut, as when the server restarts: made again, it goes on.
            with psycopg.connect(url, autocommit=True) as admin:
                cut = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name LIKE %s",
                    (f"% pid {second.proc.pid if second.proc else 0}",),
                ).fetchall()
            assert len(cut) >= 3  # the pool, the locks, LISTEN
            assert post_and_wait(second, handler, 3) < 2 * PROMPTLY
            second.wait_for("making it again", timeout=10)
            assert health(second)["store"] == {"reachable": True}
        finally:
            first.stop()
            assert second.stop() == 0, second.log()
    subjects = [body for _, _, body in handler.received]
    assert len(subjects) == 3  # each acknowledgement once


# --- the server restarted under a running daemon ----------------------------------------

RESTART_ENV = "TOUCHFLOW_TEST_PG_RESTART"


def server_control() -> list[str]:
    """pg_ctlcluster's words for the local server, or a skip saying why not here."""
    if os.environ.get(RESTART_ENV) != "1":
        pytest.skip(
            f"restarting the PostgreSQL server cuts everyone's sessions on it: set "
            f"{RESTART_ENV}=1 where that is fine (.ci/run does)"
        )
    clusters = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not clusters or shutil.which("pg_ctlcluster") is None:
        pytest.fail(f"{RESTART_ENV}=1 but no local cluster to restart (pg_ctlcluster)")
    return ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1], "main"]


def server_up() -> bool:
    try:
        with psycopg.connect(server_url(), connect_timeout=2) as db:
            db.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def health_until(daemon: DaemonProcess, status: int, timeout: float = 30) -> dict[str, Any]:
    """/healthz once it answers ``status``."""
    seen: dict[str, Any] = {}

    def answered() -> bool:
        nonlocal seen
        answer = httpx.get(f"{daemon.http_url()}/healthz", timeout=5)
        seen = dict(answer.json())
        return answer.status_code == status

    assert poll(answered, timeout=timeout, every=0.2), f"/healthz: {seen}\n{daemon.log()}"
    return seen


def test_a_daemon_outlives_a_restart_of_the_server_and_says_so(tmp_path: Path, url: str) -> None:
    control = server_control()
    handler = Handler()
    with serve(handler) as port:
        config = smtp_config(port) + "http:\n  port: 0\n"
        project = write_project(tmp_path, customers=[ANA], rules=ACK_ONLY, config=config)
        daemon = DaemonProcess(project, env={**ENV, "TOUCHFLOW_STORE_URL": url}).start()
        try:
            daemon.wait_for("touchflow is running as instance")
            assert post_and_wait(daemon, handler, 1) < PROMPTLY
            subprocess.run([*control, "stop"], check=True, capture_output=True)
            try:
                down = health_until(daemon, 503)  # at once: /healthz asks the store itself
                assert (down["status"], down["store"]["reachable"]) == ("unavailable", False)
                daemon.wait_for("cannot reach the store", timeout=15)  # its own look, too
                down = health_until(daemon, 503)
                assert down["store"]["error"].startswith("cannot lock store postgresql://")
                assert down["role"] == "sender"  # it plans nothing without the store
            finally:
                subprocess.run([*control, "start"], check=True, capture_output=True)
                assert poll(server_up, timeout=60), "the server did not come back"
            assert health_until(daemon, 200)["store"] == {"reachable": True}
            daemon.wait_for("reaches the store again")
            # It goes on: an event after the restart is planned, sent and recorded.
            assert post_and_wait(daemon, handler, 2) < 2 * PROMPTLY
        finally:
            assert daemon.stop() == 0, daemon.log()
    assert len(handler.received) == 2  # each acknowledgement once
