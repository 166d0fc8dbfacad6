"""Two daemons on one PostgreSQL store vs one: `touchflow run` planning and sending N answers.

    python bench/pg_instances.py [--n 20000] [--rounds 3] [--connections 4] [--smoke]

The project of dispatch.py (N customers, each with a new inquiry whose answer is due
at once, text + HTML), its facts copied into a fresh schema of the PostgreSQL
database at ``TOUCHFLOW_TEST_PG_URL`` (default the local test one) before each run,
the outbox empty. Then 1 or 2 `touchflow run --log-level error` daemons (real
processes, long-running, not --once) start on it at once, sending to one Postfix
`smtp-sink` over their own `--connections` each; 1 and 2 interleaved round by round.
The outbox is polled every 50 ms: seconds from the start until it holds the N planned
rows (the planning: one daemon plans, the lead), and until all N are sent; then the
daemons get SIGTERM. Also the sending phase (first to last ``sent_at``) and the CPU
of each daemon's process and its worker (from its exit). Medians, min-max, ratios
two / one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from dispatch import _MEASURED, NOW, free_port, make_project, start_sink
from pg_dispatch import pg_store

POLL = 0.05  # seconds
TIMEOUT = 600.0  # seconds a run may take before it is given up


@dataclass(frozen=True, slots=True)
class Run:
    planned: float  # seconds from the start until every row was in the outbox
    sent: float  # ... until every row was sent
    sending: float  # first to last sent_at
    cpu: float  # CPU seconds of every daemon and worker process


def run_round(template: Path, work: Path, daemons: int) -> Run:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, work, ignore=shutil.ignore_patterns("store.sqlite3*"))
    n = int((template / "n.txt").read_text())
    with pg_store(template) as url:
        env = {**os.environ, "TOUCHFLOW_STORE_URL": url}
        cpu_files = [work / f"cpu{i}.txt" for i in range(daemons)]
        command = [sys.executable, "-c", _MEASURED]
        arguments = ["run", "--log-level", "error", "--now", NOW.isoformat()]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        started = time.perf_counter()
        procs = [
            subprocess.Popen([*command, str(cpu), *arguments], cwd=work, env=env, **quiet)
            for cpu in cpu_files
        ]
        try:
            planned, sent = watch(url, n, started, procs)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
        with psycopg.connect(url) as db:
            first, last = db.execute("SELECT MIN(sent_at), MAX(sent_at) FROM outbox").fetchone()
            twice = db.execute("SELECT COUNT(*) FROM outbox WHERE attempts <> 1").fetchone()
        if twice != (0,):
            raise SystemExit(f"{twice[0]} rows were sent other than once")
    cpu = sum(sum(map(float, f.read_text().split())) for f in cpu_files)
    return Run(planned, sent, (last - first).total_seconds(), cpu)


def watch(
    url: str, n: int, started: float, procs: list[subprocess.Popen[bytes]]
) -> tuple[float, float]:
    """Seconds until N rows are in the outbox, and until all N are sent."""
    planned = None
    with psycopg.connect(url, autocommit=True) as db:
        while True:
            rows, sent = db.execute(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'sent') FROM outbox"
            ).fetchone()
            now = time.perf_counter() - started
            if planned is None and rows >= n:
                planned = now
            if sent >= n and planned is not None:
                return planned, now
            if now > TIMEOUT or any(p.poll() is not None for p in procs):
                raise SystemExit(f"after {now:.0f} s: {rows} rows, {sent} sent of {n}")
            time.sleep(POLL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI; no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.rounds = 50, 1
    port = free_port()
    sink = start_sink(port)
    runs: dict[int, list[Run]] = {1: [], 2: []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            template = make_project(Path(tmp) / "template", port, args.n, args.connections)
            (template / "n.txt").write_text(str(args.n))
            for _ in range(args.rounds):
                for daemons in runs:
                    runs[daemons].append(run_round(template, Path(tmp) / "work", daemons))
    finally:
        sink.terminate()
        sink.wait()
    report(args.n, runs)


def report(n: int, runs: dict[int, list[Run]]) -> None:
    print(f"pg_instances.messages {n}")
    med: dict[tuple[int, str], float] = {}
    for daemons, done in runs.items():
        for what in ("planned", "sent", "sending"):
            values = [getattr(r, what) for r in done]
            med[daemons, what] = statistics.median(values)
            print(f"pg_instances.d{daemons}_{what}_s {med[daemons, what]:.2f}")
            print(f"pg_instances.d{daemons}_{what}_min_max {min(values):.2f} {max(values):.2f}")
        rate = n / max(med[daemons, "sending"], 1e-6)
        print(f"pg_instances.d{daemons}_sending_msgs_per_s {rate:.0f}")
        cpu = statistics.median(r.cpu for r in done) / n * 1e6
        print(f"pg_instances.d{daemons}_cpu_us_per_msg {cpu:.0f}")
    for what in ("planned", "sent", "sending"):
        print(f"pg_instances.ratio_{what}_d2_to_d1 {med[2, what] / max(med[1, what], 1e-6):.2f}")


if __name__ == "__main__":
    main()
