"""`touchflow console` as a subprocess, over a store the daemon's first plan left (with
Ana's answer failed); shared by the integration and the browser tests."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from console_support import CUSTOMERS, console_events, make_failed
from daemon_support import DaemonProcess, project_channel, sample_store
from http_support import ENV, NOW, tables, write_http_project

from touchflow.clock import Clock
from touchflow.project import load_with_links
from touchflow.send.daemon import Daemon

# The reminder's HTML outputs the customer's name raw: Eve's is a <script>.
REMINDER_HTML = (
    '<p style="color: #333">Hello {{ customer.first_name | safe }},</p>'
    "<p>your appointment {{ event.data.appointment_id }}.</p>"
)
TABLES = ("meta", "customers", "events", "suppressions", "outbox", "changes", "plan_ranges")


async def prepared_project(root: Path) -> Path:
    """A project whose store holds the daemon's first plan at NOW, Ana's answer failed."""
    write_http_project(root, customers=CUSTOMERS, events=console_events())
    write_reminder_html(root)
    project = load_with_links(root, ENV)
    async with project_channel(project) as channel, sample_store(project, NOW) as store:
        daemon = Daemon(
            project=project, store=store, channel=channel, clock=Clock.starting_at(NOW),
            load=functools.partial(load_with_links, environ=ENV),
        )  # fmt: skip
        await daemon.start_up()
        await make_failed(store, NOW)
    return root


def write_reminder_html(root: Path) -> None:
    part = root / "message_templates" / "reminder" / "body.html"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_text(REMINDER_HTML, encoding="utf-8")


def store_file(root: Path) -> Path:
    return load_with_links(root, ENV).config.store_file()


def store_state(root: Path) -> tuple[str, int, dict[str, list[tuple[Any, ...]]]]:
    """The store file's bytes (a digest), its mtime, and every table's rows."""
    path = store_file(root)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest, path.stat().st_mtime_ns, tables(path, TABLES)


class ConsoleProcess(DaemonProcess):
    """`touchflow console --port 0 --now NOW` in ``project``, its stderr collected."""

    def start(self) -> ConsoleProcess:
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "touchflow", "console", "--port", "0", *self.args],
            cwd=self.project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **self.env} if self.env else None,
        )
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        return self

    def url(self, timeout: float = 60) -> str:
        """The console's address, once it says it serves."""
        line = self.wait_for("touchflow console (read-only) at", timeout=timeout)
        match = re.search(r"http://[\d.]+:\d+/console/", line)
        assert match is not None, line
        return match.group(0)
