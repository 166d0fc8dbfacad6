"""A SQLite user installs no PostgreSQL driver: touchflow works without one, and a
PostgreSQL location says which extra to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from daemon_support import ACK_ONLY, ANA, write_project

# Runs the CLI with psycopg made unimportable, as on a machine without the extra.
WITHOUT_DRIVER = """
import sys
for name in ("psycopg", "psycopg_pool", "psycopg_binary"):
    sys.modules[name] = None
from touchflow.cli.main import main
main()
"""


def touchflow_without_driver(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_DRIVER, *args],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_sqlite_project_runs_without_the_driver(tmp_path: Path) -> None:
    project = write_project(tmp_path, customers=[ANA], rules=ACK_ONLY)
    ran = touchflow_without_driver(project, "run", "--once", "--now", "2026-11-23T08:00:00Z")
    assert ran.returncode == 0, ran.stderr
    assert (project / ".touchflow" / "store.sqlite3").exists()


def test_a_postgresql_store_without_the_driver_says_which_extra_to_install(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path, customers=[ANA], rules=ACK_ONLY)
    with (project / "touchflow.yaml").open("a") as config:
        config.write("store: postgresql://touchflow@db.internal/shop\n")
    for args in (("store", "migrate"), ("run", "--once")):
        ran = touchflow_without_driver(project, *args)
        assert ran.returncode == 1, ran.stderr
        assert "pip install 'touchflow[postgresql]'" in ran.stderr, ran.stderr
        assert "Traceback" not in ran.stderr
