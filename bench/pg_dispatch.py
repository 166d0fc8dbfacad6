"""Dispatch end to end on each store: `touchflow run --once` on SQLite vs on PostgreSQL.

    python bench/pg_dispatch.py [--n 20000] [--rounds 5] [--connections 4]
                                [--baseline DIR] [--smoke]

The project of dispatch.py (N due touchpoints, one immediate answer per customer,
text + HTML) sent to one Postfix `smtp-sink`, at `--log-level error`, once with its
store in a SQLite file and once in PostgreSQL (a fresh schema of the database at
``TOUCHFLOW_TEST_PG_URL``, default the local test one), interleaved round by round.
Each run starts on a freshly filled store (filling is not timed); timed whole
(start-up, planning the N new events, sending) and its sending phase (first to last
``sent_at``), with the CPU per message of the daemon's process, of its worker and of
the PostgreSQL server's processes on this machine (from /proc, while the run lasts;
other users of the server count too). Prints medians, min-max and the ratios
PostgreSQL / SQLite.

``--baseline DIR``: also the PostgreSQL run with another touchflow source tree first
on ``PYTHONPATH`` (e.g. ``git archive COMMIT touchflow | tar -x -C DIR``), in the same
rounds (``postgresql_baseline``): the ratio of a change to the store, measured beside
the SQLite run it is judged against.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
from dispatch import _MEASURED, NOW, free_port, make_project, start_sink

from touchflow.store import open_store

SERVER = os.environ.get("TOUCHFLOW_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/test"
_FILLED = Path(".touchflow") / "store.sqlite3"


@contextmanager
def pg_store(template: Path) -> Iterator[str]:
    """A fresh schema holding a copy of the template's SQLite store; dropped afterwards."""
    schema = f"tf_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{SERVER}{'&' if '?' in SERVER else '?'}options={quote(f'-csearch_path={schema}')}"
    try:
        asyncio.run(copy_facts(template / _FILLED, url))
        yield url
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def copy_facts(source: Path, url: str) -> None:
    async with await open_store(source) as sqlite, await open_store(url) as pg:
        facts = await sqlite.load_facts()
        await pg.upsert_customers([f.customer for f in facts])
        await pg.add_events([e for f in facts for e in f.events])


Run = tuple[float, float, float, float, float]  # wall, sending, daemon, worker, server


def run_once(work: Path, env: dict[str, str]) -> tuple[float, float, float, float]:
    """Wall seconds, and CPU seconds of the daemon, its worker and the server."""
    cpu_file = work / "cpu.txt"
    server = server_cpu()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", _MEASURED, str(cpu_file), "run", "--once",
         "--log-level", "error", "--now", NOW.isoformat()],
        cwd=work, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    daemon, worker = map(float, cpu_file.read_text().split())
    return seconds, daemon, worker, server_cpu() - server


def server_cpu() -> float:
    """CPU seconds used so far by this machine's processes named postgres."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().startswith("postgres"):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        except OSError:
            continue  # gone meanwhile
    return ticks / os.sysconf("SC_CLK_TCK")


def sqlite_round(template: Path, work: Path) -> Run:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, work)
    env = {k: v for k, v in os.environ.items() if k != "TOUCHFLOW_STORE_URL"}
    seconds, daemon, worker, server = run_once(work, env)
    with sqlite3.connect(work / _FILLED) as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
        first, last = db.execute("SELECT MIN(sent_at), MAX(sent_at) FROM outbox").fetchone()
    checked(states)
    sending = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    return seconds, sending, daemon, worker, server


def pg_round(template: Path, work: Path, baseline: Path | None = None) -> Run:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(template, work, ignore=shutil.ignore_patterns("store.sqlite3*"))
    env = {**os.environ}
    if baseline is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(baseline), env.get("PYTHONPATH")]))
    with pg_store(template) as url:
        seconds, daemon, worker, server = run_once(work, {**env, "TOUCHFLOW_STORE_URL": url})
        with psycopg.connect(url) as db:
            states = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
            first, last = db.execute("SELECT MIN(sent_at), MAX(sent_at) FROM outbox").fetchone()
    checked(states)
    return seconds, (last - first).total_seconds(), daemon, worker, server


def checked(states: dict[str, int]) -> None:
    if set(states) != {"sent"}:
        raise SystemExit(f"touchflow left rows unsent: {states}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--baseline", type=Path, help="another touchflow source tree to compare")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI; no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.rounds = 50, 1
    port = free_port()
    sink = start_sink(port)
    times: dict[str, list[Run]] = {"sqlite": [], "postgresql": []}
    if args.baseline is not None:
        times["postgresql_baseline"] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            template = make_project(Path(tmp) / "template", port, args.n, args.connections)
            for _ in range(args.rounds):
                times["sqlite"].append(sqlite_round(template, Path(tmp) / "work"))
                times["postgresql"].append(pg_round(template, Path(tmp) / "work"))
                if args.baseline is not None:
                    times["postgresql_baseline"].append(
                        pg_round(template, Path(tmp) / "work", args.baseline.resolve())
                    )
    finally:
        sink.terminate()
        sink.wait()
    report(args.n, times)


def report(n: int, times: dict[str, list[Run]]) -> None:
    print(f"pg_dispatch.messages {n}")
    med: dict[str, float] = {}
    for store, runs in times.items():
        for i, phase in enumerate(("", "_sending")):
            rates = [n / max(run[i], 1e-6) for run in runs]
            med[store + phase] = statistics.median(rates)
            print(f"pg_dispatch.{store}{phase}_msgs_per_s {med[store + phase]:.0f}")
            print(f"pg_dispatch.{store}{phase}_min_max {min(rates):.0f} {max(rates):.0f}")
        for i, who in enumerate(("daemon", "worker", "server"), start=2):
            per = statistics.median(run[i] for run in runs) / n * 1e6
            print(f"pg_dispatch.{store}_{who}_cpu_us_per_msg {per:.0f}")
    for phase in ("", "_sending"):
        ratio = med["postgresql" + phase] / med["sqlite" + phase]
        print(f"pg_dispatch.ratio{phase}_postgresql_to_sqlite {ratio:.2f}")
        if "postgresql_baseline" in times:
            before = med["postgresql_baseline" + phase] / med["sqlite" + phase]
            print(f"pg_dispatch.ratio{phase}_postgresql_baseline_to_sqlite {before:.2f}")


if __name__ == "__main__":
    main()
