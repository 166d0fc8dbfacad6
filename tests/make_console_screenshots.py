"""Remake docs/console/*.png: the browser test's screenshots, saved into the docs.

Run by hand (not by the suite) after a change to the console's look:
``python tests/make_console_screenshots.py``. Needs Debian's chromium and Playwright.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILE = "tests/acceptance/test_console_browser.py"
TESTS = (
    f"{FILE}::test_log_in_see_the_month_a_day_a_why_retry_a_failed_send_and_a_diff",
    f"{FILE}::test_touchflow_console_serves_read_only_and_a_message_runs_no_script",
)


def main() -> int:
    shots = REPO / "docs" / "console"
    environ = {
        **os.environ,
        "TOUCHFLOW_CONSOLE_SHOTS": str(shots),
        "TOUCHFLOW_REQUIRE_BROWSER": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
        cwd=REPO,
        env=environ,
        check=False,
    )
    if done.returncode == 0:
        print(f"screenshots in {shots}: {', '.join(sorted(p.name for p in shots.glob('*.png')))}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
