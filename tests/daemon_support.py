"""Projects for tests that run touchflow, and the ways to run it and read what it did.

A small daemon project written from parts, or a copy of the bundled sample; the
CLI as a subprocess or in this process; `touchflow run` as a process whose log is
followed; the project's store and channel opened in this process; the outbox and
Maildir read back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import IO, Any

import support
from click.testing import CliRunner, Result

from touchflow.channels import Channel
from touchflow.channels.factory import open_channel
from touchflow.cli import flows
from touchflow.cli.main import cli
from touchflow.project import Project
from touchflow.store.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[1]
SAMPLE_PARTS = ("touchflow.yaml", "rules", "message_templates", "sample")

CONFIG = """\
name: Test Shop
timezone: UTC
locale: en
sample: sample
email:
  from: "Test Shop <shop@example.com>"
  unsubscribe: "mailto:unsubscribe@example.com"
events:
  appointment_booked: {appointment_id: string, starts_at: datetime}
  appointment_cancelled: {appointment_id: string}
  inquiry_received: {inquiry_id: string, subject: string}
policies:
  marketing:
    send_window: none
    caps: false
    require_consent: false
daemon:
  horizon: 2 days
  retry_first: 1 minute
  retry_max: 10 minutes
"""

RULES = """\
- id: reminder
  category: transactional
  trigger:
    event: appointment_booked
    anchor: event.data.starts_at
    occurrence: event.data.appointment_id
  cancel_on: [appointment_cancelled]
  send: 24 hours before
  action: {template: reminder}

- id: ack
  category: transactional
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  send: immediately
  action: {template: ack}

- id: late-ok
  category: transactional
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  send: 2 hours after
  expires_after: 7 days
  action: {template: ack}
"""

ACK_ONLY = """\
- id: ack
  category: transactional
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  send: immediately
  action: {template: ack}
"""

ANA: dict[str, Any] = {"id": "c1", "email": "ana@example.com", "first_name": "Ana"}


def booking(*, starts_in_days: int, customer: str = "c1") -> dict[str, Any]:
    """Appointment a-1, booked at 07:00 UTC on the first run's day, starting at 12:00."""
    return {
        "id": "b1",
        "type": "appointment_booked",
        "customer": customer,
        "at": "{{ at(days=0, time='07:00', tz='UTC') }}",
        "data": {
            "appointment_id": "a-1",
            "starts_at": f"{{{{ at(days={starts_in_days}, time='12:00', tz='UTC') }}}}",
        },
    }


def inquiry(
    n: int, *, customer: str = "c1", at: str = "07:30", hours: int = 0, subject: str = "Hello"
) -> dict[str, Any]:
    """Inquiry q-<n>, received at ``at`` UTC (+ ``hours``) on the first run's day."""
    return {
        "id": f"q{n}",
        "type": "inquiry_received",
        "customer": customer,
        "at": f"{{{{ at(days=0, time='{at}', tz='UTC', hours={hours}) }}}}",
        "data": {"inquiry_id": f"q-{n}", "subject": subject},
    }


def smtp_config(port: int, *, tls: str = "none", extra: str = "") -> str:
    """CONFIG delivering to an SMTP server on 127.0.0.1:``port``; ``extra``: more smtp keys."""
    return CONFIG + (
        f"delivery:\n  smtp:\n    host: 127.0.0.1\n    port: {port}\n    tls: {tls}\n{extra}"
    )


TEMPLATES = {
    "reminder/subject.txt": "Reminder: your appointment {{ event.data.appointment_id }}",
    "reminder/body.txt": "Hello {{ customer.first_name }}, see you {{ event.data.starts_at }}.",
    "ack/subject.txt": "We got your question: {{ event.data.subject }}",
    "ack/body.txt": "Hello {{ customer.first_name }}, thank you.",
}


def write_project(
    root: Path,
    *,
    customers: list[dict[str, Any]],
    events: Sequence[dict[str, Any]] = (),
    rules: str = RULES,
    config: str = CONFIG,
) -> Path:
    """A project whose sample (loaded on the first run) holds these customers and events.

    Sample values may use the sample's Jinja helpers, e.g. "{{ at(days=1, time='10:00') }}",
    which are relative to the first run's --now.
    """
    support.write_project(root, rules, config)
    for name, text in TEMPLATES.items():
        path = root / "message_templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    sample = root / "sample"
    sample.mkdir(exist_ok=True)
    (sample / "customers.jsonl").write_text(_lines(customers), encoding="utf-8")
    (sample / "events.jsonl").write_text(_lines(list(events)), encoding="utf-8")
    return root


def _lines(items: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


def copy_sample(dest: Path) -> Path:
    """A copy of the bundled sample project (the repo root) in ``dest``."""
    for part in SAMPLE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part)
        else:
            shutil.copy(source, dest / part)
    return dest


# --- the CLI ----------------------------------------------------------------------


def touchflow(
    *args: str,
    cwd: Path,
    check: bool = True,
    env: dict[str, str] | None = None,
    stdin: int | IO[Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, in a new interpreter; with ``check``, it must succeed."""
    result = subprocess.run(
        [sys.executable, "-m", "touchflow", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=stdin,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def invoke(project: Path, *args: str) -> Result:
    """The command in this process (a subprocess each costs ~0.7 s); it must succeed."""
    result = CliRunner().invoke(cli, [*args, "--project", str(project)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


# --- what it did ------------------------------------------------------------------

ALL_STATES = ("pending", "claimed", "sent", "retry", "failed", "cancelled", "expired", "suppressed")


def outbox(project: Path, *states: str) -> list[dict[str, Any]]:
    """Rows in these states (default: every state)."""
    args = [a for s in states or ALL_STATES for a in ("--state", s)]
    out = touchflow("outbox", "--format", "json", "--limit", "100000", *args, cwd=project).stdout
    rows: list[dict[str, Any]] = json.loads(out)["rows"]
    return rows


def by_key(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in rows}


def maildir_messages(project: Path) -> list[EmailMessage]:
    folder = project / ".touchflow" / "maildir" / "new"
    if not folder.is_dir():
        return []
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in sorted(folder.iterdir())
    ]


def poll(done: Callable[[], bool], *, timeout: float, every: float = 0.05) -> bool:
    """Asks ``done`` until it says yes or ``timeout`` seconds have passed: whether it did.

    No assertion: the caller's own says best what is missing.
    """
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)
    return True


# --- `touchflow run` as a process -------------------------------------------------


class DaemonProcess:
    """`touchflow run` as a subprocess, its stderr collected by a thread."""

    def __init__(self, project: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.project = project
        self.args = args
        self.env = env  # added to this process's environment
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> DaemonProcess:
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "touchflow", "run", *self.args],
            cwd=self.project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **self.env} if self.env else None,
        )
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        return self

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.lines.append(line.rstrip("\n"))
        proc.stderr.close()

    def wait_for(self, text: str, timeout: float = 60, occurrences: int = 1) -> str:
        """The ``occurrences``-th log line (from the start) containing ``text``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if text in line]
            if len(found) >= occurrences:
                return found[occurrences - 1]
            if self.proc is not None and self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader drain the last lines
                if sum(text in line for line in self.lines) < occurrences:
                    break
            time.sleep(0.05)
        log = "\n".join(self.lines)
        raise AssertionError(f"{text!r} not logged within {timeout} s:\n{log}")

    def log(self) -> str:
        return "\n".join(self.lines)

    def http_url(self, timeout: float = 60) -> str:
        """The base URL the HTTP interface logged it serves at, once it has."""
        line = self.wait_for("HTTP interface at", timeout=timeout)
        match = re.search(r"http://[\d.]+:\d+", line)
        assert match is not None, line
        return match.group(0)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then wait: the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._join()
        return code

    def kill(self) -> None:
        """SIGKILL: no goodbye, no cleanup."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=60)
        self._join()

    def _join(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=10)


# --- the project in this process --------------------------------------------------


@asynccontextmanager
async def sample_store(project: Project, now: datetime) -> AsyncIterator[SqliteStore]:
    """The project's store, its sample loaded as a first run at ``now`` loads it."""
    async with await SqliteStore.open(project.config.store_file()) as store:
        await flows.ensure_sample(store, project.config, now, lambda _: None)
        yield store


@asynccontextmanager
async def project_channel(project: Project) -> AsyncIterator[Channel]:
    """The channel the project's delivery settings name (no secrets in its environment)."""
    channel = open_channel(project.config.delivery, root=project.config.root, environ={})
    try:
        yield channel
    finally:
        await channel.aclose()
