"""Crash cost: wall time from SIGKILL to the first send after restart, with N pending rows.

    python bench/crash_cost.py [--n 100000] [--rounds 5] [--smoke]

A project with N due touchpoints (bench/dispatch.py's) sends to Postfix's
smtp-sink. Each round: start `touchflow run`, wait until messages flow, SIGKILL
it, restart it at once and time until the outbox records the next `sent` row.
Target: ≤ 5 s with 100k pending rows.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dispatch

POLL = 0.01


def sent(store: Path) -> int:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'sent'").fetchone()[0])


def daemon(project: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "touchflow", "run", "--log-level", "error",
         "--now", dispatch.NOW.isoformat()],
        cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_for_more(store: Path, than: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            now = sent(store)
        except sqlite3.OperationalError:  # the store is being created
            now = 0
        if now > than:
            return now
        time.sleep(POLL)
    raise SystemExit(f"no send within {timeout} s")


def one_round(project: Path) -> tuple[float, int]:
    store = project / ".touchflow" / "store.sqlite3"
    first = daemon(project)
    try:
        wait_for_more(store, 0, timeout=600)
        time.sleep(0.5)  # mid-flow
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    killed_at = time.perf_counter()
    before = sent(store)
    second = daemon(project)
    try:
        wait_for_more(store, before, timeout=600)
        seconds = time.perf_counter() - killed_at
        pending = before
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=120)
    return seconds, pending


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI; no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        # Enough rows that the first daemon is still sending when it is killed.
        args.n, args.rounds = 5000, 1
    port = dispatch.free_port()
    sink = dispatch.start_sink(port)
    times: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            template = dispatch.make_project(Path(tmp) / "template", port, args.n, 4)
            for _ in range(args.rounds):
                work = Path(tmp) / "work"
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(template, work)
                seconds, _ = one_round(work)
                times.append(seconds)
    finally:
        sink.terminate()
        sink.wait()
    print(f"crash.pending_rows {args.n}")
    print(f"crash.seconds_to_first_send_median {statistics.median(times):.2f}")
    print(f"crash.seconds_to_first_send_min_max {min(times):.2f} {max(times):.2f}")


if __name__ == "__main__":
    main()
