"""`touchflow run --once` starts without the stacks it does not use (issue 15).

The HTTP stack (starlette, uvicorn), DKIM (dkimpy and dnspython) and metrics
(prometheus_client) cost a few tenths of a second to import; a cron run of the
sample project, which serves no HTTP and signs nothing, must not pay for them.
Nor does it need the scheduler (only `run` without --once starts timers), rich
(only the commands that print tables) or aiosmtplib (the sample delivers to a
Maildir). The sample's holiday rules need the
calendars of a few countries, not the ~250 that the `holidays` package's country
index imports (touchflow.calendars reads around it).
The time itself is a benchmark's business; this counts what was imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Runs the CLI as the `touchflow` script does, then prints the objects the collector was
# told to leave alone (the import's, touchflow.cli.entry) and the modules loaded.
_RUN = """\
import atexit, gc, sys
atexit.register(lambda: print(gc.get_freeze_count(), " ".join(sorted(sys.modules))))
sys.argv[0] = "touchflow"
from touchflow.cli.entry import main
main()
"""
_UNUSED = {"starlette", "uvicorn", "dkim", "dns", "prometheus_client", "httpx"}
_NOT_FOR_ONCE = {"apscheduler", "rich", "aiosmtplib"}
# The holidays modules of the countries the sample's customers live in.
_SAMPLE_COUNTRIES = {
    "australia", "brazil", "canada", "france", "germany", "japan", "united_kingdom",
    "united_states",
}  # fmt: skip


def test_run_once_on_the_sample_imports_no_http_dkim_or_metrics_stack(sample: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _RUN, "run", "--once", "--log-level", "error"],
        cwd=sample,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    frozen, *names = result.stdout.splitlines()[-1].split()
    modules = set(names)
    loaded = {m.split(".")[0] for m in modules}
    assert "touchflow" in loaded
    assert loaded & _UNUSED == set()
    assert loaded & _NOT_FOR_ONCE == set()
    countries = {m.rsplit(".", 1)[1] for m in modules if m.startswith("holidays.countries.")}
    # The project's (Germany) and its customers' countries: the holiday check of
    # `thanksgiving-greeting` finds the name in the first calendar it reads, the United States'.
    assert "germany" in countries
    assert countries <= _SAMPLE_COUNTRIES, sorted(countries - _SAMPLE_COUNTRIES)
    # The command line's own objects (about 60,000) are frozen out of the collector's way.
    assert int(frozen) > 20_000
