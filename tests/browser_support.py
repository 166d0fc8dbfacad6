"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by Playwright.

Where either is missing the browser tests skip, saying why; with
``TOUCHFLOW_REQUIRE_BROWSER=1`` (``.ci/run`` sets it, after installing Chromium)
they fail instead, so CI never passes by skipping them. Playwright's own browser
download (``playwright install``) is never used: the tests run Debian's build.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("TOUCHFLOW_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_ENV = "TOUCHFLOW_REQUIRE_BROWSER"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@cache
def missing() -> str | None:
    """Why no browser test can run here, or None if they can."""
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


def require_browser() -> None:
    """Skip (or, where a browser is required, fail) unless Chromium and Playwright are here."""
    why = missing()
    if why is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {why}", pytrace=False)
    pytest.skip(why)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
