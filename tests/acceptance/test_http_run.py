"""`touchflow run` with `http:` configured, as a process on a real port.

The walkthrough in docs/api.md is run as written (curl, jq, openssl, GNU date),
against the bundled sample; the rest drives a small project with httpx.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from daemon_support import DaemonProcess, by_key, maildir_messages, outbox, touchflow
from http_support import (
    AUTH,
    ENV,
    HTTP_CONFIG,
    NOW,
    PUBLIC_URL,
    SECRET,
    TOKEN,
    booking,
    event,
    metric,
    write_http_project,
)
from smtp_support import free_port

from touchflow.messages.unsubscribe import make_token
from touchflow.models import Category

REPO = Path(__file__).resolve().parents[2]


def _walkthrough(port: int) -> str:
    """The shell blocks of "Try it on the sample project" in docs/api.md, on ``port``."""
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("## Try it on the sample project", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) >= 6, "the walkthrough lost its steps"
    return "\n".join(blocks).replace("8787", str(port))


def _has_tools() -> bool:
    tools = all(shutil.which(t) for t in ("bash", "curl", "jq", "openssl", "date"))
    if not tools:
        return False
    gnu = subprocess.run(["date", "-u", "-d", "+2 days"], capture_output=True, check=False)
    return gnu.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _has_tools(), reason="needs bash, curl, jq, openssl and GNU date")
def test_the_walkthrough_in_docs_api_md_works_as_written(sample: Path, tmp_path: Path) -> None:
    # `touchflow` on PATH is the one under test, run by this interpreter; `exec`, so that
    # the walkthrough's `kill %1` reaches the daemon itself.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "touchflow").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m touchflow "$@"\n')
    (bin_dir / "touchflow").chmod(0o755)
    # The daemon inherits stdout: it must not outlive a failed step, or the pipe stays open.
    script = (
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
        + _walkthrough(free_port())
        + "\nwait\n"  # for the daemon the walkthrough stopped
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHFLOW_")}
    environ["PATH"] = f"{bin_dir}{os.pathsep}{environ.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-c", script], cwd=sample, capture_output=True, text=True, timeout=120,
        env=environ,
    )  # fmt: skip
    log = (sample / "touchflow.log").read_text(encoding="utf-8")
    out = result.stdout
    assert result.returncode == 0, f"{out}\n{result.stderr}\n{log}"

    assert '"status":"ok"' in out
    booked, cancelled, unsubscribed, metrics, mistake = _steps(out)
    assert '{"id":"web-1001","duplicate":false,"unused":false}' in booked
    assert _lines(booked, "pending", "appointment-reminder") == 2
    assert '{"id":"web-1002","duplicate":false,"unused":false}' in cancelled
    assert _lines(cancelled, "cancelled", "appointment-reminder") == 2
    assert '"category":"marketing"}' in unsubscribed
    assert _lines(unsubscribed, "suppressed", "is suppressed") == 1
    # The sample's own appointments add rows by the time of day (a reminder entering the
    # 2-day horizon): count what the walkthrough did, not the exact totals.
    reminders = _gauges(metrics, 'touchflow_touchpoints{rule="appointment-reminder",state="')
    assert reminders["cancelled"] >= 2
    assert set(reminders) >= {"pending", "sent", "cancelled", "suppressed"}
    assert "touchflow_outbox_depth " in metrics
    assert '"field":"at"' in mistake

    assert "HTTP interface stopped" in log
    assert log.rstrip().endswith("stopped")


def _gauges(text: str, prefix: str) -> dict[str, float]:
    """``{label: value}`` of the metric lines starting with ``prefix`` (cut at the next '"')."""
    found = {}
    for line in text.splitlines():
        if line.startswith(prefix):
            label, _, rest = line[len(prefix) :].partition('"')
            found[label] = float(rest.split()[-1])
    return found


def _steps(out: str) -> list[str]:
    """The output of steps 2 to 6, split at the JSON answer each starts with."""
    starts = [
        out.index('{"id":"web-1001"'),
        out.index('{"id":"web-1002"'),
        out.index("Wrote "),
        out.index("touchflow_touchpoints{"),
        out.index('{"error":'),
    ]
    return [out[a:b] for a, b in zip(starts, [*starts[1:], len(out)], strict=True)]


def _lines(text: str, state: str, containing: str) -> int:
    return sum(1 for line in text.splitlines() if f"│ {state}" in line and containing in line)


# --- a small project, driven with httpx ----------------------------------------------


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[DaemonProcess, str]]:
    """`touchflow run --now NOW` on a free port; its base URL."""
    inquiry = {**event("q1", customer="c2", inquiry_id="q-1", subject="Hi"),
               "at": "{{ at(days=0, time='07:00', tz='UTC') }}"}  # fmt: skip
    project = write_http_project(tmp_path, events=[inquiry])
    process = DaemonProcess(project, "--now", NOW.isoformat(), env=ENV).start()
    try:
        yield process, process.http_url(timeout=60)
    finally:
        process.stop()


@pytest.mark.slow
def test_touchflow_run_serves_events_unsubscribes_health_and_metrics(
    daemon: tuple[DaemonProcess, str],
) -> None:
    process, url = daemon
    project = process.project
    with httpx.Client(base_url=url, timeout=10) as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        assert {"plan", "watch", "reclaim"} <= set(health.json()["timers"])

        # A booking: its reminder is in the outbox when the answer comes.
        assert client.post("/v1/events", json=booking(), headers=AUTH).status_code == 201
        rows = by_key(outbox(project))
        assert rows["reminder:c1:a-1:24h-before"]["state"] == "pending"
        assert _sample(client, 'touchflow_touchpoints{rule="reminder",state="pending"}') == 1

        # Its cancellation cancels it.
        cancel = event("x1", "appointment_cancelled", appointment_id="a-1")
        assert client.post("/v1/events", json=cancel, headers=AUTH).status_code == 201
        assert by_key(outbox(project))["reminder:c1:a-1:24h-before"]["state"] == "cancelled"
        assert _sample(client, 'touchflow_touchpoints{rule="reminder",state="cancelled"}') == 1

        # A coupon whose reminder is due tomorrow; Ana unsubscribes today.
        expires = (NOW + timedelta(days=2)).isoformat()
        issued = event("k1", "coupon_issued", coupon_code="K1", expires_at=expires)
        assert client.post("/v1/events", json=issued, headers=AUTH).status_code == 201
        key = "coupon:c1:K1:1d-before"
        assert by_key(outbox(project))[key]["state"] == "pending"
        token = make_token(SECRET, "ana@example.com", Category.MARKETING)
        assert client.get(f"/v1/unsubscribe/{token}").status_code == 200
        assert by_key(outbox(project))[key]["state"] == "pending"  # GET changed nothing
        assert client.post(f"/v1/unsubscribe/{token}").status_code == 200
        assert by_key(outbox(project))[key]["state"] == "suppressed"

        # The inquiry's answer went out at start: its latency and last send are counted.
        process.wait_for("claimed → sent")
        assert _sample(client, "touchflow_last_dispatch_timestamp_seconds") > 0
    assert process.stop() == 0
    log = process.log()
    assert "HTTP interface stopped" in log
    assert TOKEN not in log and SECRET not in log


def test_the_messages_of_a_running_daemon_carry_a_working_link(tmp_path: Path) -> None:
    issued = {  # the coupon expires tonight: its reminder was due yesterday, sent at start
        "id": "k1", "type": "coupon_issued", "customer": "c1",
        "at": "{{ at(days=-2, time='08:00', tz='UTC') }}",
        "data": {"coupon_code": "K1", "expires_at": "{{ at(days=0, time='20:00', tz='UTC') }}"},
    }  # fmt: skip
    project = write_http_project(tmp_path, events=[issued])
    process = DaemonProcess(project, "--now", NOW.isoformat(), env=ENV).start()
    try:
        url = process.http_url()
        process.wait_for("coupon:c1:K1:1d-before claimed → sent")
        (message,) = maildir_messages(project)
        link = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))[0]
        assert link.startswith(f"{PUBLIC_URL}/v1/unsubscribe/")
        answer = httpx.post(url + link.removeprefix(PUBLIC_URL), timeout=10)
        assert answer.status_code == 200
        assert answer.json()["unsubscribed"] == "a•••@example.com"
    finally:
        assert process.stop() == 0


@pytest.mark.parametrize(
    ("config", "environ", "named"),
    [
        (HTTP_CONFIG, {}, "TOUCHFLOW_UNSUBSCRIBE_SECRET"),
        (HTTP_CONFIG.replace("public_url", "# public_url"), {}, "TOUCHFLOW_API_TOKEN"),
        (HTTP_CONFIG, {**ENV, "TOUCHFLOW_API_TOKEN": "short"}, "TOUCHFLOW_API_TOKEN"),
    ],
    ids=["unsubscribe-secret", "api-token", "too-short"],
)
def test_a_missing_secret_stops_the_start_naming_the_variable(
    tmp_path: Path, config: str, environ: dict[str, str], named: str
) -> None:
    project = write_http_project(tmp_path, config=config)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHFLOW_")}
    result = touchflow("run", cwd=project, check=False, env={**clean, **environ})
    assert result.returncode == 2
    assert named in result.stderr
    assert "short" not in result.stderr.replace("too short", "")
    assert not (project / ".touchflow" / "store.sqlite3").exists()  # stopped before anything


def test_a_taken_port_stops_the_start_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        project = write_http_project(
            tmp_path, config=HTTP_CONFIG.replace("port: 0", f"port: {port}")
        )
        result = touchflow("run", cwd=project, check=False, env={**os.environ, **ENV})
    assert result.returncode == 1
    assert f"cannot serve HTTP on 127.0.0.1:{port} (http.host, http.port)" in result.stderr


def test_run_once_serves_no_http_and_needs_no_token(tmp_path: Path) -> None:
    project = write_http_project(tmp_path)
    only = {"TOUCHFLOW_UNSUBSCRIBE_SECRET": SECRET}  # public_url is set: links are signed
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHFLOW_")}
    result = touchflow(
        "run", "--once", "--now", NOW.isoformat(), cwd=project, env={**clean, **only}
    )
    assert "HTTP interface" not in result.stderr
    assert json.loads(touchflow("outbox", "--format", "json", cwd=project).stdout)["counts"]


def _sample(client: httpx.Client, name: str) -> float:
    return metric(client.get("/metrics").text, name)
