"""The web console's pages checked for accessibility in a real browser, by axe-core.

axe-core (Deque's engine, as bundled by axe-playwright-python) runs in headless
Chromium on every page of `touchflow console` (the daemon's console serves the same
pages): the WCAG 2.0 and 2.1 A and AA rules, colour contrast included. A customer's
message inside the sandboxed iframe is the customer's mail, not the console, and is
left out. The keyboard test logs in and opens a day without the mouse.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from browser_support import chromium, require_browser
from console_offline_support import ConsoleProcess, prepared_project
from http_support import ENV, NOW, TOKEN

PAGES = [
    "",
    "day/2026-11-24",
    "outbox",
    "outbox?state=failed",
    "customers",
    "customers?q=nobody%40example.com",
    "customers/c1",
    "customers/c3",
    "rules",
    "health",
    "no/such/page",
]
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
NOT_THE_CONSOLE = {"exclude": [["iframe.message-html"]]}  # the customer's own message


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    root = asyncio.run(prepared_project(tmp_path_factory.mktemp("a11y") / "project"))
    process = ConsoleProcess(root, "--now", NOW.isoformat(), env=ENV).start()
    try:
        yield process.url()
    finally:
        assert process.stop() == 0


def violations(page: Any) -> list[str]:
    """axe's findings on the page as it is: "rule (impact): the first element's HTML"."""
    found = Axe().run(page, context=NOT_THE_CONSOLE, options=RULES)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} · {v['nodes'][0]['html'][:120]}"
        for v in found.response["violations"]
    ]


def logged_in(browser: Any, url: str) -> Any:
    page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
    page.goto(url)
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url)
    return page


def counted(page: Any, wait: float = 60) -> None:
    """Wait out a "counting…" page, which reloads itself until its counts are there."""
    deadline = time.monotonic() + wait
    while page.locator('meta[http-equiv="refresh"]').count():
        assert time.monotonic() < deadline, f"{page.url} still counting"
        page.wait_for_timeout(200)


@pytest.mark.slow
def test_every_page_passes_axes_wcag_a_and_aa_rules(console: str) -> None:
    url = console
    found: dict[str, list[str]] = {}
    with chromium() as browser:
        login = browser.new_context().new_page()
        login.goto(url + "login")
        found["login"] = violations(login)
        page = logged_in(browser, url)
        for path in PAGES:
            page.goto(url + path)
            counted(page)
            found[path or "calendar"] = violations(page)
        page.goto(url + "customers/c3")
        page.get_by_role("link", name="The message: headers, text and HTML").first.click()
        found["message"] = violations(page)
    assert {path: v for path, v in found.items() if v} == {}


@pytest.mark.slow
def test_log_in_and_open_a_day_by_keyboard_alone(console: str) -> None:
    url = console
    with chromium() as browser:
        page = browser.new_context().new_page()
        page.goto(url)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "token"
        page.keyboard.type(TOKEN)
        page.keyboard.press("Enter")
        page.wait_for_url(url)
        day = page.locator('a[href="/console/day/2026-11-24"]')
        day.wait_for(timeout=60_000)  # after "Counting…"
        for _ in range(200):
            page.keyboard.press("Tab")
            focused = page.evaluate("document.activeElement.getAttribute('href')")
            if focused == "/console/day/2026-11-24":
                break
        else:
            pytest.fail("Tab never reached the day's link")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"  # the focus is seen
        page.keyboard.press("Enter")
        page.wait_for_url(url + "day/2026-11-24")
