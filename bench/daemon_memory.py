"""Daemon memory: RSS of an idle daemon over an hour of simulated timer ticks.

    python bench/daemon_memory.py [--customers 1000000] [--smoke]

Builds a generated project (bench/gen.py) with N customers and N pending
outbox rows (due next week, so nothing is sent), then runs the daemon's own
timer jobs in-process as an hour would: `watch` every 2 s (1800 runs), `plan`
every 15 min (4 runs), `reclaim` every 2.5 min (24 runs). Prints RSS at the
start, the end and the peak. Target: flat, ≤ 300 MiB with 1M customers and
1M pending rows.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen

from touchflow.channels.maildir import MaildirChannel
from touchflow.clock import Clock
from touchflow.daemon import Daemon
from touchflow.models import Category, OutboxRow, OutboxState
from touchflow.project import load_project_checked
from touchflow.store.sqlite import SqliteStore

NOW = gen.datetime.fromisoformat("2026-11-23T08:00:00+00:00")
PAGE = resource.getpagesize()


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


async def pending_rows(store: SqliteStore, n: int) -> None:
    due = NOW + timedelta(days=7)
    for start in range(0, n, 50_000):
        rows = [
            OutboxRow(
                key=f"bench:c{i:07d}:next-week:0",
                rule_id="monthly-sale",
                customer_id=f"c{i:07d}",
                category=Category.MARKETING,
                counts_for_caps=True,
                state=OutboxState.PENDING,
                due_at=due,
                expires_at=due + timedelta(days=1),
                next_attempt_at=due,
                to=f"customer{i}@example.com",
            )
            for i in range(start, min(n, start + 50_000))
        ]
        await store.write_plan(rows, [], now=NOW)


async def simulate(project_dir: Path, n: int, ticks: int) -> list[float]:
    project = load_project_checked(project_dir)
    samples = [rss_mib()]
    async with await SqliteStore.open(project.config.store_file()) as store:
        await pending_rows(store, n)
        daemon = Daemon(
            project=project,
            store=store,
            channel=MaildirChannel(project_dir / "maildir"),
            clock=Clock.starting_at(NOW),
        )
        samples.append(rss_mib())
        for tick in range(ticks):
            await daemon._watch_job()
            if tick % 75 == 0:  # 2.5 min of 2 s ticks
                await daemon._reclaim_job()
            if tick % 450 == 0:  # 15 min
                await daemon._plan_job()
            if tick % 150 == 0:
                samples.append(rss_mib())
    samples.append(rss_mib())
    return samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=1800, help="2 s watch ticks (1800 = 1 h)")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI; no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        args.customers, args.ticks = 200, 5
    with tempfile.TemporaryDirectory() as tmp:
        out = gen.make_project(Path(tmp) / "project")
        asyncio.run(gen.fill_store(out, args.customers, seed=1, now=NOW))
        started = time.perf_counter()
        samples = asyncio.run(simulate(out, args.customers, args.ticks))
        seconds = time.perf_counter() - started
    print(f"memory.customers {args.customers}")
    print(f"memory.pending_rows_added {args.customers}")
    print(f"memory.ticks {args.ticks}")
    print(f"memory.rss_mib_after_load {samples[1]:.0f}")
    print(f"memory.rss_mib_end {samples[-1]:.0f}")
    print(f"memory.rss_mib_peak {max(samples):.0f}")
    print(f"memory.seconds {seconds:.1f}")


if __name__ == "__main__":
    main()
