"""The web console in a real browser: headless Chromium against `touchflow run` on 127.0.0.1.

One daemon for the module (a subprocess, as a user starts it), with a failed send in its
store before it starts. Each page is saved as a screenshot in the test's directory, or
in ``TOUCHFLOW_CONSOLE_SHOTS`` (tests/make_console_screenshots.py fills docs/console/).
"""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import chromium, require_browser
from console_offline_support import ConsoleProcess, prepared_project, store_state
from console_support import CUSTOMERS, EVIL, EVIL_DATA, FAILED_KEY, console_events, make_failed
from daemon_support import (
    ANA,
    DaemonProcess,
    by_key,
    outbox,
    project_channel,
    sample_store,
    write_project,
)
from http_support import ENV, NOW, TOKEN, write_http_project

from touchflow.clock import Clock
from touchflow.project import load_with_links
from touchflow.send.daemon import Daemon


async def _prepare(root: Path) -> None:
    """The store as the daemon's first plan leaves it, with Ana's answer failed."""
    project = load_with_links(root, ENV)
    async with project_channel(project) as channel, sample_store(project, NOW) as store:
        daemon = Daemon(
            project=project, store=store, channel=channel, clock=Clock.starting_at(NOW),
            load=functools.partial(load_with_links, environ=ENV),
        )  # fmt: skip
        await daemon.start_up()
        await make_failed(store, NOW)


def _commit_another_reminder(root: Path) -> None:
    """HEAD sends the reminder 48 hours before; the working tree (which runs) 24 hours."""
    rules = root / "rules" / "rules.yaml"
    running = rules.read_text(encoding="utf-8")
    rules.write_text(running.replace("24 hours before", "48 hours before"), encoding="utf-8")
    (root / ".gitignore").write_text(".touchflow/\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "48 hours"]):
        subprocess.run(
            ["git", "-c", "user.name=Ops", "-c", "user.email=ops@example.com", *args],
            cwd=root, check=True, capture_output=True,
        )  # fmt: skip
    rules.write_text(running, encoding="utf-8")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DaemonProcess, str]]:
    require_browser()
    root = write_http_project(
        tmp_path_factory.mktemp("console"), customers=CUSTOMERS, events=console_events()
    )
    _commit_another_reminder(root)
    asyncio.run(_prepare(root))
    process = DaemonProcess(root, "--now", NOW.isoformat(), env=ENV).start()
    try:
        line = process.wait_for("web console at", timeout=60)
        yield process, line.split("web console at ")[1].split()[0]
    finally:
        process.stop()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TOUCHFLOW_CONSOLE_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.slow
def test_log_in_see_the_month_a_day_a_why_retry_a_failed_send_and_a_diff(
    console: tuple[DaemonProcess, str], shots: Path
) -> None:
    process, url = console
    assert url.startswith("http://127.0.0.1:") and url.endswith("/console/")
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        page = context.new_page()
        problems = _watch(page)
        page.goto(url)
        assert page.url.endswith("/console/login")
        page.screenshot(path=shots / "login.png")
        page.get_by_label("API token").fill(TOKEN)
        page.get_by_role("button", name="Log in").click()
        assert page.url == url
        (cookie,) = context.cookies()
        assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Strict")
        assert cookie["value"] != TOKEN
        # The first view says "counting…" and reloads itself until the counts are there.
        page.locator('a[href="/console/day/2026-11-24"]').wait_for()
        assert page.get_by_text("Counted at 2026-11-23").is_visible()
        page.screenshot(path=shots / "calendar.png", full_page=True)

        page.locator('a[href="/console/day/2026-11-24"]').click()
        assert page.get_by_role("heading", name="Sends on 2026-11-24").is_visible()
        page.get_by_role("link", name="c1").first.wait_for()
        page.screenshot(path=shots / "day.png", full_page=True)

        _held_why(page, shots)
        _escaped(page)
        _retry(page, shots, process)
        _diff(page, shots)
        _health(page, shots)
        assert problems == []
        _on_a_phone(browser, context.cookies(), url, shots)


def _diff(page: Any, shots: Path) -> None:
    page.get_by_role("link", name="Rules").click()
    page.get_by_text("Comparing the running version with HEAD").wait_for()  # after "Counting…"
    page.get_by_text("Coming volume and samples").wait_for()
    row = page.locator("tr", has=page.get_by_role("cell", name="reminder", exact=True))
    assert row.inner_text().split("\t")[-1].startswith("3 added, 3 no longer sent")
    assert (
        "reminder:c1:a-1:48h-before · c1 · no longer sent" in page.locator("pre").first.inner_text()
    )
    page.screenshot(path=shots / "rules.png", full_page=True)


def _health(page: Any, shots: Path) -> None:
    page.get_by_role("link", name="Health").click()
    assert page.get_by_role("status").inner_text() == "The daemon is ok."
    timers = page.locator("#timers-h + ul").inner_text()
    assert all(f"{name}: next 2026-" in timers for name in ("plan", "watch", "reclaim"))
    page.screenshot(path=shots / "health.png")


def _on_a_phone(browser: Any, cookies: list[Any], url: str, shots: Path) -> None:
    """The calendar and the outbox fit a phone's width: no page scrolls sideways."""
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.add_cookies(cookies)
    page = phone.new_page()
    for path in ("", "outbox", "customers/c2"):
        page.goto(url + path)
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, f"{path or 'calendar'} is {wide} px wider than the phone"
    page.goto(url)
    page.screenshot(path=shots / "phone.png")


def _watch(page: Any) -> list[str]:
    """Dialogs (an alert() that ran) and console errors (a CSP violation) seen by the page."""
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("console", lambda m: seen.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: seen.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return seen


def _held_why(page: Any, shots: Path) -> None:
    page.get_by_role("link", name="Customer search").click()
    page.get_by_label("Customer id or e-mail").fill("ben@example.com")
    page.get_by_role("button", name="Find").click()
    assert page.url.endswith("/console/customers/c2")
    page.get_by_text("Every check").first.click()  # opens the held touchpoint's checks
    stopped = page.locator(".stopped").first.inner_text()
    assert stopped.startswith("Stopped by: cancelled by appointment_cancelled event x2")
    assert page.locator(".checks .fail").first.is_visible()
    page.screenshot(path=shots / "customer.png")


def _escaped(page: Any) -> None:
    page.goto(page.url.replace("/customers/c2", "/customers/c3"))
    assert page.locator("dd", has_text=EVIL).inner_text() == EVIL  # shown as text, not run
    assert page.locator("script").count() == 0


def _retry(page: Any, shots: Path, process: DaemonProcess) -> None:
    page.get_by_role("link", name="Outbox").click()
    assert "550 5.1.1 <b>no such user</b>" in page.locator("main").inner_text()
    page.screenshot(path=shots / "outbox.png", full_page=True)
    page.get_by_role("button", name=f"Retry {FAILED_KEY}").first.click()
    assert page.get_by_role("status").inner_text().startswith(f"Re-queued {FAILED_KEY}")
    process.wait_for(f"console: re-queued {FAILED_KEY} (was failed: bad_mailbox)")
    process.wait_for(f"{FAILED_KEY} claimed → sent")
    assert by_key(outbox(process.project))[FAILED_KEY]["state"] == "sent"


def test_run_without_http_serves_no_console(tmp_path: Path) -> None:
    """No `http:` section: `touchflow run` opens no port, so there is no console to reach."""
    root = write_project(tmp_path, customers=[ANA])
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHFLOW_")}
    process = DaemonProcess(root, "--now", NOW.isoformat(), env=clean).start()
    try:
        process.wait_for("touchflow is running as instance")
    finally:
        assert process.stop() == 0
    log = process.log()
    assert "web console" not in log and "HTTP interface" not in log


@pytest.mark.slow
def test_touchflow_console_serves_read_only_and_a_message_runs_no_script(
    tmp_path: Path, shots: Path
) -> None:
    """`touchflow console` (no daemon): the calendar, read-only; Eve's reminder, whose HTML
    outputs her name (a <script>) raw, shown in the sandboxed iframe without running it."""
    require_browser()
    root = asyncio.run(prepared_project(tmp_path / "project"))
    before = store_state(root)
    process = ConsoleProcess(root, "--now", NOW.isoformat(), env=ENV).start()
    try:
        url = process.url()
        with chromium() as browser:
            page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
            problems = _watch(page)
            page.goto(url)
            page.get_by_label("API token").fill(TOKEN)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(url)
            assert page.get_by_text("Read-only: touchflow console shows the store").is_visible()
            page.locator('a[href="/console/day/2026-11-24"]').wait_for()  # after "Counting…"
            assert page.get_by_text("Read-only: touchflow console shows the store").is_visible()
            page.screenshot(path=shots / "console.png", full_page=True)
            page.get_by_role("link", name="Outbox").click()
            page.wait_for_url(url + "outbox")
            assert page.get_by_role("button", name="Retry").first.is_disabled()
            assert "read-only: run the daemon to retry" in page.locator("main").inner_text()
            _message(page, url, shots)
            assert [p for p in problems if p.startswith("dialog") or p[:1] in "45"] == []
    finally:
        assert process.stop() == 0
    assert store_state(root) == before


def _message(page: Any, url: str, shots: Path) -> None:
    page.goto(url + "customers/c3")
    page.get_by_role("link", name="The message: headers, text and HTML").first.click()
    page.wait_for_url(url + "message?customer=c3&key=reminder*")
    assert page.locator("pre.message-text").inner_text().startswith(f"Hello {EVIL}, see you")
    frame = page.frame_locator("iframe.message-html")
    assert frame.locator("p").nth(1).inner_text() == f"your appointment {EVIL_DATA}."
    assert frame.locator("script").count() == 1  # there, in the HTML as sent; it did not run
    assert page.locator("main script").count() == 0
    page.wait_for_timeout(300)  # time for an alert() to open, if one could
    page.locator("iframe.message-html").scroll_into_view_if_needed()
    page.screenshot(path=shots / "message.png")
