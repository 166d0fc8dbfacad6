"""`touchflow console`: the console with no daemon, read-only.

In this process, its app over a store: no retry (the buttons are disabled, a POST is
refused and changes nothing), and a store that refuses writes. As a subprocess, as a
user starts it: no token or no store stops it with a clear message; browsing every page
leaves the store's file (bytes and mtime) and its rows as they were; a daemon holding
the store is named, and the console serves all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from console_offline_support import ConsoleProcess, prepared_project, store_file, store_state
from console_support import FAILED_KEY
from http_support import ENV, NOW, TOKEN
from test_console import PAGES, csrf_of

from touchflow.clock import Clock
from touchflow.console.offline import ReadOnlyError, ReadOnlyStore, daemon_holder, offline_app
from touchflow.console.session import COOKIE
from touchflow.console.throttle import FAILS
from touchflow.models import OutboxState
from touchflow.project import load_with_links
from touchflow.send.lock import StoreLock
from touchflow.store.sqlite import SqliteStore
from touchflow.store.sqlite.store import SCHEMA_VERSION as SQLITE_VERSION

NOT_RETRIED = "read-only: run the daemon to retry"
NOT_CANCELLED = "read-only: run the daemon to cancel"
PENDING_KEY = "reminder:c1:a-1:24h-before"
MESSAGE_LINK = re.compile(r'href="(/console/message\?[^"]+)"')


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return asyncio.run(prepared_project(tmp_path_factory.mktemp("offline")))


@pytest.fixture
async def client(root: Path) -> AsyncIterator[httpx.AsyncClient]:
    project = load_with_links(root, ENV)
    async with await SqliteStore.open(project.config.store_file()) as store:
        app = offline_app(project, store, Clock.starting_at(NOW), TOKEN)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as c:
            answer = await c.post("/console/login", data={"token": TOKEN})
            assert answer.status_code == 303
            c.headers["Cookie"] = f"{COOKIE}={answer.cookies[COOKIE]}"
            yield c


async def test_retry_is_disabled_and_a_retry_is_refused(
    client: httpx.AsyncClient, root: Path
) -> None:
    page = (await client.get("/console/outbox?state=failed")).text
    assert NOT_RETRIED in page and "Read-only: <code>touchflow console</code>" in page
    assert 'action="/console/outbox/retry"' not in page
    assert '<button type="button" disabled>Retry</button>' in page
    customer = (await client.get("/console/customers/c1")).text
    assert NOT_RETRIED in customer and 'action="/console/outbox/retry"' not in customer
    before = store_state(root)
    answer = await client.post(
        "/console/outbox/retry", data={"csrf": csrf_of(page), "key": FAILED_KEY}
    )
    assert answer.status_code == 403
    assert f"{NOT_RETRIED}: this console (`touchflow console`) changes nothing." in answer.text
    assert store_state(root)[2] == before[2]


async def test_cancel_is_disabled_and_a_cancel_is_refused(
    client: httpx.AsyncClient, root: Path
) -> None:
    page = (await client.get("/console/outbox?state=pending")).text
    assert NOT_CANCELLED in page and '<button type="button" disabled>Cancel</button>' in page
    assert 'action="/console/outbox/cancel"' not in page
    before = store_state(root)
    answer = await client.post(
        "/console/outbox/cancel", data={"csrf": csrf_of(page), "key": PENDING_KEY}
    )
    assert answer.status_code == 403
    assert f"{NOT_CANCELLED}: this console (`touchflow console`) changes nothing." in answer.text
    assert store_state(root)[2] == before[2]


async def test_the_store_refuses_every_write(root: Path) -> None:
    async with await SqliteStore.open(store_file(root)) as store:
        guarded = ReadOnlyStore(store)
        (row,) = [r for r in await guarded.list_outbox(customer_id="c1") if r.key == FAILED_KEY]
        assert row.state is OutboxState.FAILED
        for name in ("requeue", "write_plan", "claim_due", "upsert_customers", "set_meta",
                     "add_events", "delete_customers", "erase_customer", "reclaim",
                     "cancel_by_hand", "start_plan_run", "take_plan_range",
                     "advance_plan_range", "end_plan_run", "drop_changes",
                     "planning_turn"):  # fmt: skip
            with pytest.raises(ReadOnlyError, match=f"does not call {name}"):
                getattr(guarded, name)


def test_no_daemon_holds_a_store_nobody_locks(root: Path) -> None:
    location = store_file(root)
    assert daemon_holder(location) is None
    with StoreLock(location):
        assert daemon_holder(location) == f"pid {os.getpid()}"
    assert daemon_holder(location) is None


def _console(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "touchflow", "console", *args],
        capture_output=True, text=True, env={**environ, **env}, timeout=60,
    )  # fmt: skip


def test_without_a_token_it_does_not_start(root: Path) -> None:
    done = _console("--project", str(root), env={})
    assert done.returncode == 2
    assert "TOUCHFLOW_API_TOKEN" in done.stderr and "touchflow console" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_a_store_it_does_not_make_one(tmp_path: Path, root: Path) -> None:
    for part in ("touchflow.yaml", "rules", "message_templates"):
        (tmp_path / part).symlink_to(root / part)
    done = _console("--project", str(tmp_path), env=ENV)
    assert done.returncode == 2
    assert "no store yet at" in done.stderr and "touchflow run" in done.stderr
    assert not (tmp_path / ".touchflow").exists()


@pytest.mark.parametrize(
    ("version", "said"),
    [
        ("3", f"has schema version 3; this touchflow reads {SQLITE_VERSION}. touchflow "
              "console changes nothing, so it does not upgrade it: run `touchflow store migrate`"),
        ("99", f"has schema version 99, newer than this touchflow reads ({SQLITE_VERSION})"),
    ],
)  # fmt: skip
def test_a_store_of_another_schema_version_is_left_as_it_is(
    tmp_path: Path, root: Path, version: str, said: str
) -> None:
    copy = _linked_copy(root, tmp_path, journal="wal")
    with contextlib.closing(sqlite3.connect(copy)) as db, db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    done = _console("--project", str(tmp_path), env=ENV)
    assert done.returncode == 2, done.stderr
    assert said in " ".join(done.stderr.split()) and "Traceback" not in done.stderr
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before


@pytest.mark.slow
def test_the_login_throttle_counts_the_peer_not_a_forwarded_for_header(root: Path) -> None:
    process = ConsoleProcess(root, "--now", NOW.isoformat(), env=ENV).start()
    try:
        base = process.url().removesuffix("/console/")
        with httpx.Client(base_url=base, timeout=30) as web:
            statuses = [
                web.post("/console/login", data={"token": "guess"},
                         headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
                for i in range(FAILS + 1)
            ]  # fmt: skip
    finally:
        assert process.stop() == 0
    assert statuses == [401] * FAILS + [429]
    assert "wrong token from 127.0.0.1" in process.log() and "10.0.0." not in process.log()


def test_help_teaches(root: Path) -> None:
    done = _console("--help", env={})
    assert done.returncode == 0
    for words in ("Read-only", "TOUCHFLOW_API_TOKEN", "--port", "Examples:", "Exit codes"):
        assert words in done.stdout


def _browse(url: str) -> list[str]:
    """Every page and each customer's messages; the answers' statuses, by page."""
    base = url.removesuffix("/console/")
    seen = []
    with httpx.Client(base_url=base, timeout=60) as web:
        answer = web.post("/console/login", data={"token": TOKEN})
        assert answer.status_code == 303, answer.text
        cookie = {"Cookie": f"{COOKIE}={answer.cookies[COOKIE]}"}
        pages = [*PAGES, "/console/day/2026-11-23"]
        for customer in ("c1", "c2", "c3"):
            page = web.get(f"/console/customers/{customer}", headers=cookie).text
            for link in MESSAGE_LINK.findall(page):
                link = html.unescape(link)
                pages += [link, link.replace("/console/message?", "/console/message/html?")]
        for path in pages:
            answer = web.get(path, headers=cookie)
            seen.append(f"{answer.status_code} {path}")
            assert answer.status_code in (200, 404), (path, answer.text)
            if "/message/html" not in path:
                assert "<script" not in answer.text, path
    return seen


@pytest.mark.slow
def test_browsing_every_page_leaves_the_store_as_it_was(root: Path) -> None:
    before = store_state(root)
    process = ConsoleProcess(root, "--now", NOW.isoformat(), env=ENV).start()
    try:
        url = process.url()
        assert url.startswith("http://127.0.0.1:")
        seen = _browse(url)
        assert sum(s.startswith("200 /console/message/html") for s in seen) >= 3
    finally:
        assert process.stop() == 0
    assert "holds the store" not in process.log()
    assert store_state(root) == before


def _linked_copy(root: Path, project: Path, *, journal: str) -> Path:
    """``project``: root's files, linked, and a copy of its store in ``journal`` mode."""
    for part in ("touchflow.yaml", "rules", "message_templates"):
        (project / part).symlink_to(root / part)
    copy = store_file(project)
    copy.parent.mkdir()
    with sqlite3.connect(store_file(root)) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with contextlib.closing(sqlite3.connect(copy)) as db:
        db.execute(f"PRAGMA journal_mode = {journal}")
    return copy


@pytest.mark.slow
def test_the_counts_too_read_the_store_on_read_only_connections(tmp_path: Path, root: Path) -> None:
    """The calendar's and the rules page's counts open the store of their own: read-only
    too, so a store not in WAL mode stays so, byte for byte (a writable open sets WAL)."""
    copy = _linked_copy(root, tmp_path, journal="delete")
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    process = ConsoleProcess(tmp_path, "--now", NOW.isoformat(), env=ENV).start()
    try:
        base = process.url().removesuffix("/console/")
        with httpx.Client(base_url=base, timeout=60) as web:
            answer = web.post("/console/login", data={"token": TOKEN})
            cookie = {"Cookie": f"{COOKIE}={answer.cookies[COOKIE]}"}
            for path in ("/console/", "/console/day/2026-11-24", "/console/rules"):
                deadline = time.monotonic() + 60
                while 'http-equiv="refresh"' in (page := web.get(path, headers=cookie).text):
                    assert time.monotonic() < deadline, path
                    time.sleep(0.1)
                assert "Counting failed" not in page and "Counted at" in page, path
    finally:
        assert process.stop() == 0
    with contextlib.closing(sqlite3.connect(copy)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before


@pytest.mark.slow
def test_a_daemon_holding_the_store_is_named_and_the_console_serves(root: Path) -> None:
    with StoreLock(store_file(root)):  # as `touchflow run` holds it
        process = ConsoleProcess(root, "--now", NOW.isoformat(), env=ENV).start()
        try:
            url = process.url()
            line = process.wait_for("holds the store")
            assert f"a daemon (pid {os.getpid()}) holds the store: serving it read-only" in line
            with httpx.Client(timeout=30) as web:
                assert web.get(url.replace("/console/", "/console/login")).status_code == 200
        finally:
            assert process.stop() == 0
