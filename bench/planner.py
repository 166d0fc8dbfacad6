"""The planner alone: load a generated project's facts once, then plan it several times.

    python bench/planner.py --project /tmp/tf-100k [--days 30] [--rounds 5]
    python bench/planner.py --project /tmp/tf-1m --pipeline [--rounds 5]
    python bench/planner.py --smoke        # a 200-customer project in a tmp dir, 1 round

One line per figure (``name value``), for scripts. An evaluation is one rule
considered for one customer: customers x rules per round.

``--pipeline`` measures what the daemon's full plan and the preview do before
they write or render: read everyone from the store a page at a time
(``SqliteStore.facts_pages``) and plan each page; in one process, and in one
process per core (``--jobs N``: N), each an id range (``touchflow.plan.id_ranges``, as the
preview does), interleaved; the workers plan with the collector paused
throughout (``acyclic``: planning makes no cycles). Every round runs in a
fresh process, so its peak RSS is its own (with workers: the parent's and
theirs added up).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import gen
from touchflow.models import CustomerFacts, Window
from touchflow.plan.id_ranges import in_processes
from touchflow.plan.planner import Planner, plan
from touchflow.project import Project, load_project_checked
from touchflow.store import EVERYONE, IdRange
from touchflow.store.sqlite import SqliteStore

NOW = "2026-11-23T08:00:00+00:00"  # gen.py's default "now": the data is spread around it


async def load(project: Project) -> list[CustomerFacts]:
    async with await SqliteStore.open(project.config.store_file()) as store:
        return await store.load_facts()


def run(root: Path, *, days: int, rounds: int, now: datetime) -> None:
    project = load_project_checked(root)
    started = time.perf_counter()
    facts = asyncio.run(load(project))
    load_seconds = time.perf_counter() - started
    window = Window.of_days(now, days)
    seconds: list[float] = []
    planned = 0
    for _ in range(rounds):
        started = time.perf_counter()
        result = plan(project.rules, facts, window=window, config=project.config)
        seconds.append(time.perf_counter() - started)
        planned = len(result)
        del result
    evaluations = len(facts) * len(project.rules)
    median = statistics.median(seconds)
    print(f"planner.customers {len(facts)}")
    print(f"planner.rules {len(project.rules)}")
    print(f"planner.days {days}")
    print(f"planner.rounds {rounds}")
    print(f"planner.touchpoints {planned}")
    print(f"planner.load_seconds {load_seconds:.2f}")
    print(f"planner.seconds_median {median:.3f}")
    print(f"planner.seconds_min_max {min(seconds):.3f} {max(seconds):.3f}")
    print(f"planner.evals_per_s {evaluations / median:.0f}")
    print(f"planner.customers_per_s {len(facts) / median:.0f}")
    # ru_maxrss is in KiB on Linux.
    print(f"planner.peak_rss_mib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


async def pipeline_once(root: Path, *, days: int, now: datetime, jobs: int | None) -> None:
    """One paged load-and-plan of everyone, in ``jobs`` processes (None: one per
    core); prints its figures on one line."""
    started = time.perf_counter()
    project = load_project_checked(root)
    async with await SqliteStore.open(project.config.store_file()) as store:
        work = partial(_plan_range, str(root), days, now.isoformat())
        parts = await in_processes(store, work, workers=jobs, acyclic=True)
        if parts is None:
            parts = [await _plan_pages(project, store, days, now, EVERYONE)]
    seconds = time.perf_counter() - started
    customers = sum(n for n, _, _ in parts)
    touchpoints = sum(tps for _, tps, _ in parts)
    # ru_maxrss is in KiB on Linux. The workers run at once: their peaks add up.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if len(parts) > 1:
        rss += sum(peak for _, _, peak in parts)
    print(f"once {customers} {touchpoints} {seconds:.3f} {rss:.0f} {len(parts)}")


def _plan_range(root: str, days: int, now: str, ids: IdRange) -> tuple[int, int, float]:
    """In a worker process: customers and touchpoints of one id range, and its peak RSS."""
    project = load_project_checked(Path(root))
    at = datetime.fromisoformat(now)

    async def plan_range() -> tuple[int, int, float]:
        async with await SqliteStore.open(project.config.store_file()) as store:
            return await _plan_pages(project, store, days, at, ids)

    return asyncio.run(plan_range())


async def _plan_pages(
    project: Project, store: SqliteStore, days: int, now: datetime, ids: IdRange
) -> tuple[int, int, float]:
    planner = Planner(project.rules, window=Window.of_days(now, days), config=project.config)
    customers = touchpoints = 0
    async for page in store.facts_pages(sent_since=now, ids=ids):
        touchpoints += len(await asyncio.to_thread(planner.plan, page))
        customers += len(page)
    return customers, touchpoints, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pipeline(root: Path, *, days: int, rounds: int, now: datetime, jobs: int | None) -> None:
    """One process and ``jobs`` processes (None: one per core), interleaved."""
    figures: dict[str, list[tuple[float, float]]] = {"one": [], "jobs": []}
    customers = touchpoints = processes = 0
    for _ in range(rounds):
        for name, n in (("one", 1), ("jobs", jobs)):
            argv = [sys.executable, __file__, "--project", str(root), "--days", str(days)]
            argv += ["--now", now.isoformat(), "--pipeline-once"]
            argv += ["--jobs", str(n)] if n is not None else []
            out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
            _, count, tps, wall, rss, used = out.split()
            customers, touchpoints = int(count), int(tps)
            processes = int(used) if name == "jobs" else processes
            figures[name].append((float(wall), float(rss)))
    print(f"pipeline.customers {customers}")
    print(f"pipeline.touchpoints {touchpoints}")
    print(f"pipeline.rounds {rounds}")
    print(f"pipeline.processes {processes}")
    for name, runs in figures.items():
        seconds = [wall for wall, _ in runs]
        prefix = "pipeline." if name == "jobs" else "pipeline.one_process_"
        median = statistics.median(seconds)
        print(f"{prefix}seconds_median {median:.2f}")
        print(f"{prefix}seconds_min_max {min(seconds):.2f} {max(seconds):.2f}")
        print(f"{prefix}customers_per_s {customers / median:.0f}")
        print(f"{prefix}peak_rss_mib_median {statistics.median(r for _, r in runs):.0f}")
        print(f"{prefix}peak_rss_mib_max {max(r for _, r in runs):.0f}")
    one, many = (statistics.median(w for w, _ in figures[k]) for k in ("one", "jobs"))
    print(f"pipeline.speedup {one / many:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, help="a project made by bench/gen.py")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--now", default=NOW, help="window start (ISO 8601 with offset)")
    parser.add_argument("--smoke", action="store_true", help="200 customers, 1 round, no timing")
    parser.add_argument("--pipeline", action="store_true", help="paged load + plan, fresh process")
    parser.add_argument(
        "--jobs", type=int, help="--pipeline: processes to compare with one (default: per core)"
    )
    parser.add_argument("--pipeline-once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now)
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
            project = gen.make_project(Path(tmp) / "project")
            asyncio.run(gen.fill_store(project, 200, seed=1, now=now))
            run(project, days=args.days, rounds=1, now=now)
            pipeline(project, days=args.days, rounds=1, now=now, jobs=2)
        return
    if args.project is None:
        parser.error("give --project DIR (made by bench/gen.py) or --smoke")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.pipeline_once:
        asyncio.run(pipeline_once(args.project, days=args.days, now=now, jobs=args.jobs))
    elif args.pipeline:
        pipeline(args.project, days=args.days, rounds=args.rounds, now=now, jobs=args.jobs)
    else:
        run(args.project, days=args.days, rounds=args.rounds, now=now)


if __name__ == "__main__":
    main()
