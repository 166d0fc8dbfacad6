"""Daemon memory: RSS of an idle daemon over an hour of simulated timer ticks.

    python bench/daemon_memory.py [--customers 1000000] [--smoke]
    python bench/daemon_memory.py --project /tmp/tf-1m   # a copy of a gen.py project

Builds a generated project (bench/gen.py) with N customers and N pending
outbox rows (due next week, so nothing is sent), then runs the daemon's own
timer jobs in-process as an hour would: `watch` every 2 s (1800 runs), `plan`
every 15 min (4 runs), `reclaim` every 2.5 min (24 runs). Prints RSS after
loading, at the end, and the peak (sampled every 0.1 s by a thread, so a
plan's high-water mark is not missed). Target: flat, ≤ 300 MiB with 1M customers and
1M pending rows.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen

from touchflow.channels.maildir import MaildirChannel
from touchflow.clock import Clock
from touchflow.models import Category, OutboxRow, OutboxState
from touchflow.project import load_project_checked
from touchflow.send.daemon import Daemon
from touchflow.store.sqlite import SqliteStore

NOW = gen.datetime.fromisoformat("2026-11-23T08:00:00+00:00")
PAGE = resource.getpagesize()


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


class Sampler:
    """RSS every 0.1 s in a thread: the peak of every plan, not just the tick samples."""

    def __init__(self) -> None:
        self.peak = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_mib())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, rss_mib())


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


async def simulate(project_dir: Path, ticks: int) -> tuple[int, list[float], float]:
    project = load_project_checked(project_dir)
    samples = [rss_mib()]
    async with await SqliteStore.open(project.config.store_file()) as store:
        n = await store.customer_count()
        await pending_rows(store, n)
        daemon = Daemon(
            project=project,
            store=store,
            channel=MaildirChannel(project_dir / "maildir"),
            clock=Clock.starting_at(NOW),
        )
        samples.append(rss_mib())
        sampler = Sampler()
        for tick in range(ticks):
            await daemon._watch_job()
            if tick % 75 == 0:  # 2.5 min of 2 s ticks
                await daemon._reclaim_job()
            if tick % 450 == 0:  # 15 min
                await daemon._plan_job()
            if tick % 150 == 0:
                samples.append(rss_mib())
        peak = sampler.stop()
    samples.append(rss_mib())
    return n, samples, peak


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--project", type=Path, help="copy this gen.py project instead")
    parser.add_argument("--ticks", type=int, default=1800, help="2 s watch ticks (1800 = 1 h)")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI; no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        args.customers, args.ticks = 200, 5
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "project"
        if args.project is not None:  # a copy: the run writes pending rows into it
            shutil.copytree(args.project, out)
        else:
            gen.make_project(out)
            asyncio.run(gen.fill_store(out, args.customers, seed=1, now=NOW))
        started = time.perf_counter()
        customers, samples, peak = asyncio.run(simulate(out, args.ticks))
        seconds = time.perf_counter() - started
    print(f"memory.customers {customers}")
    print(f"memory.pending_rows_added {customers}")
    print(f"memory.ticks {args.ticks}")
    print(f"memory.rss_mib_after_load {samples[1]:.0f}")
    print(f"memory.rss_mib_end {samples[-1]:.0f}")
    print(f"memory.rss_mib_peak {peak:.0f}")
    # Every 5 min of ticks: flat once the first full plan has run.
    print(f"memory.rss_mib_samples {' '.join(f'{x:.0f}' for x in samples[2:])}")
    print(f"memory.seconds {seconds:.1f}")


if __name__ == "__main__":
    main()
