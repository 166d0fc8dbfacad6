"""A full plan shared out: one `touchflow run` vs two on one PostgreSQL store.

    python bench/pg_plan_share.py [--n 200000] [--rounds 3] [--days 30] [--smoke]

gen.py's project and N customers, copied once into a fresh schema of the PostgreSQL
database at ``TOUCHFLOW_TEST_PG_URL`` (default the local test one). Each round empties
the outbox and the planning meta (no changes pending), then starts long-running
`touchflow run --log-level warning` daemons on it at once (real processes; delivering
to the project's Maildir, the default) and times, from their start, until the daemon
that plans records the end of its full plan (``daemon_planned_until`` in the store's
meta, polled every 50 ms, as are the ranges each daemon holds); then SIGTERM. (At
`info` every one of the plan's 350,000 new rows is a log line, and the daemons spend
their time writing them.) Three ways, interleaved round by round:

- ``one``: one daemon, ``daemon.plan_workers: 1`` (it plans in its own process);
- ``two``: two daemons, ``plan_workers: 1`` each (the full plan shared out between them);
- ``one_workers``: one daemon, ``plan_workers: 2`` (its two worker processes), for
  comparison: what one daemon gets from both cores by itself.

Also how many of the ranges the second daemon planned, the rows in the outbox (the
same every way), the CPU seconds of the daemons' processes and of the PostgreSQL
server's (every process of this machine named postgres: other users count too).
Medians, min-max, the ratio two / one. One line per figure (``name value``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
from dispatch import _MEASURED
from pg_dispatch import server_cpu

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import gen

SERVER = os.environ.get("TOUCHFLOW_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/test"
NOW = "2026-11-23T08:00:00+00:00"  # gen.py's default "now"
TIMEOUT = 1800.0
WAYS = {"one": (1, 1), "two": (2, 1), "one_workers": (1, 2)}  # daemons, plan_workers
_ENDED = "SELECT 1 FROM meta WHERE key = 'daemon_planned_until'"
_OWNERS = "SELECT owner, COUNT(*) FROM plan_ranges WHERE done GROUP BY owner"
_RESET = """
TRUNCATE outbox; DELETE FROM changes; DELETE FROM plan_ranges;
DELETE FROM meta WHERE key IN ('daemon_planned_until', 'plan_run', 'changes_done');
"""


def make_schema(project: Path) -> str:
    """A fresh schema holding the project's customers and events; its URL."""
    schema = f"tf_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{SERVER}{'&' if '?' in SERVER else '?'}options={quote(f'-csearch_path={schema}')}"
    subprocess.run(
        [sys.executable, "-m", "touchflow", "store", "copy",
         str(project / ".touchflow" / "store.sqlite3"), url],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return url


def configure(project: Path, days: int, workers: int) -> None:
    config = project / "touchflow.yaml"
    text = re.sub(r"(?ms)^daemon:.*?(?=^\S|\Z)", "", config.read_text(encoding="utf-8"))
    text += f"\ndaemon:\n  horizon: {days} days\n  plan_workers: {workers}\n"
    config.write_text(text, encoding="utf-8")


def run_round(template: Path, work: Path, url: str, way: str, days: int) -> dict[str, float]:
    daemons, workers = WAYS[way]
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, work, ignore=shutil.ignore_patterns(".touchflow"))
    configure(work, days, workers)
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(_RESET)
    env = {**os.environ, "TOUCHFLOW_STORE_URL": url}
    server = server_cpu()
    logs = [work / f"daemon{i}.log" for i in range(daemons)]
    cpu = [work / f"cpu{i}.txt" for i in range(daemons)]
    started = time.perf_counter()
    arguments = ["run", "--log-level", "warning", "--now", NOW]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _MEASURED, str(c), *arguments],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        for log, c in zip(logs, cpu, strict=True)
    ]
    try:
        planned, owners = wait_for_plan(url, started, procs, logs)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=120)
    with psycopg.connect(url) as db:
        (rows,) = db.execute("SELECT COUNT(*) FROM outbox").fetchone() or (0,)
    ranges = sorted(owners.values(), reverse=True)
    return {
        "seconds": planned,
        "second_ranges": float(ranges[1] if len(ranges) > 1 else 0),
        "ranges": float(sum(ranges)),
        "rows": float(rows),
        "cpu": sum(sum(map(float, c.read_text().split())) for c in cpu),
        "server_cpu": server_cpu() - server,
    }


def wait_for_plan(
    url: str, started: float, procs: list[subprocess.Popen[bytes]], logs: list[Path]
) -> tuple[float, dict[str, int]]:
    """Seconds from the start until the planner recorded the end of its full plan, and the
    ranges each daemon had planned (as last seen before the run ended)."""
    owners: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as db:
        while time.perf_counter() - started < TIMEOUT:
            if db.execute(_ENDED).fetchone():
                return time.perf_counter() - started, owners
            seen = dict(db.execute(_OWNERS).fetchall())
            if seen:
                owners = seen
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a daemon stopped:\n" + "\n".join(lg.read_text() for lg in logs))
            time.sleep(0.05)
    raise SystemExit("no full plan ended in time")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="2,000 customers, 1 round")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.rounds = 2000, 1
    with tempfile.TemporaryDirectory(prefix="tf-plan-share-") as tmp:
        template = gen.make_project(Path(tmp) / "project")
        asyncio.run(gen.fill_store(template, args.n, seed=7, now=datetime.fromisoformat(NOW)))
        url = make_schema(template)
        try:
            runs: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
            for _ in range(args.rounds):
                for way in WAYS:
                    runs[way].append(run_round(template, Path(tmp) / way, url, way, args.days))
            report(args.n, runs)
        finally:
            _drop(url)


def _drop(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        (name,) = db.execute("SELECT current_schema()").fetchone() or ("",)
        db.execute(f'DROP SCHEMA "{name}" CASCADE')


def report(n: int, runs: dict[str, list[dict[str, float]]]) -> None:
    print(f"pg_plan_share.customers {n}")
    for way, found in runs.items():
        seconds = [r["seconds"] for r in found]
        print(f"pg_plan_share.{way}_seconds {statistics.median(seconds):.2f}")
        print(f"pg_plan_share.{way}_min_max {min(seconds):.2f} {max(seconds):.2f}")
        print(f"pg_plan_share.{way}_cpu_seconds {statistics.median(r['cpu'] for r in found):.1f}")
        server = statistics.median(r["server_cpu"] for r in found)
        print(f"pg_plan_share.{way}_server_cpu_seconds {server:.1f}")
        print(f"pg_plan_share.{way}_rows {int(statistics.median(r['rows'] for r in found))}")
        if way == "two":
            second = statistics.median(r["second_ranges"] for r in found)
            total = statistics.median(r["ranges"] for r in found)
            print(f"pg_plan_share.two_second_daemon_ranges {second:g} of {total:g}")
    rows = {int(r["rows"]) for found in runs.values() for r in found}
    if len(rows) != 1:
        raise SystemExit(f"the ways wrote different outboxes: {sorted(rows)} rows")
    one = statistics.median(r["seconds"] for r in runs["one"])
    two = statistics.median(r["seconds"] for r in runs["two"])
    workers = statistics.median(r["seconds"] for r in runs["one_workers"])
    print(f"pg_plan_share.ratio_two_to_one {two / one:.2f}")
    print(f"pg_plan_share.ratio_one_workers_to_one {workers / one:.2f}")


if __name__ == "__main__":
    main()
