"""`touchflow preview --format json` as a user runs it: its scratch files never outlive it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

NOW = "2026-11-23T08:00:00+00:00"


def preview_json(project: Path, scratch: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "touchflow", "preview", "--project", str(project)]
    argv += ["--now", NOW, "--days", "400", "--all", "--format", "json", "--jobs", "2"]
    return subprocess.Popen(
        argv,
        env={**os.environ, "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's job is
    )


def test_a_preview_in_worker_processes_removes_its_sorted_runs(
    sample: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    out, _ = preview_json(sample, scratch).communicate(timeout=120)
    assert out.startswith(b"[\n  {")
    assert list(scratch.iterdir()) == []


def test_ctrl_c_during_a_preview_in_worker_processes_leaves_no_runs_behind(
    sample: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = preview_json(sample, scratch)
    deadline = time.monotonic() + 60
    # The directory is made before the workers start (a second or so to spawn).
    while not any(scratch.iterdir()):
        assert proc.poll() is None, "finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole job, workers too
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        # Seen once under the full suite's load: the process pool's shutdown waiting on
        # a worker. A second Ctrl-C ends the wait, and the runs must still go.
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert list(scratch.iterdir()) == []
