"""The daemon's own first full plan: `touchflow run --once` into an empty outbox.

    python bench/daemon_plan.py --project /tmp/tf-100k --project /tmp/tf-1m [--days 2,30]
    python bench/daemon_plan.py --smoke     # a 200-customer project in a tmp dir, 1 round

What a user runs, not the planner alone (that is `planner.py --pipeline`): each
round copies a project made by `gen.py` anew (the copy is not timed), sets
`daemon: horizon` in its touchflow.yaml, and times `python -m touchflow run --once`
in a fresh process, from its start to its exit. Projects and horizons take turns
round by round (interleaved). Reported per project and horizon: wall seconds, CPU
seconds (user + system of every process the command waited for), the peak RSS of
the largest process, the peak of the RSS of all its processes added up (sampled
every 50 ms from /proc), and the outbox rows written; and the ratio of each
project's wall time to the first project's (1M / 100k: linearity). One line per
figure (``name value``), for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import gen

NOW = "2026-11-23T08:00:00+00:00"  # gen.py's default "now"
STORE = Path(".touchflow") / "store.sqlite3"  # where gen.py puts it


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    wall: float
    cpu: float
    peak_mib: float  # the largest single process
    sum_mib: float  # all processes of the command together, sampled
    rows: int


def _tree_rss_kib(root: int) -> int:
    """RSS of ``root`` and its descendants, from /proc (0 for any that just ended)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, total = {root}, 0
    for pid in sorted(parents):  # children have higher ids, but do not rely on it
        if parents[pid] in tree:
            tree.add(pid)
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _sampled(process: subprocess.Popen[bytes]) -> list[int]:
    """Sample the process tree's RSS every 50 ms until it ends, in a thread."""
    peaks = [0]

    def sample() -> None:
        while process.poll() is None:
            peaks[0] = max(peaks[0], _tree_rss_kib(process.pid))
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    return peaks


def once(source: Path, days: int, work: Path) -> Run:
    """One round: a fresh copy of ``source`` with ``days`` of horizon, `run --once` on it."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    config = work / "touchflow.yaml"
    text = config.read_text(encoding="utf-8")
    if "\ndaemon:" in text:
        raise SystemExit(f"{config} has a daemon section already: use a project from gen.py")
    config.write_text(f"{text}\ndaemon:\n  horizon: {days} days\n", encoding="utf-8")
    argv = [sys.executable, "-m", "touchflow", "run", "--once"]
    argv += ["--log-level", "error", "--now", NOW]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=work, stdout=subprocess.DEVNULL)
    peaks = _sampled(process)
    if process.wait() != 0:
        raise SystemExit(f"run --once exited with {process.returncode} in {work}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with sqlite3.connect(work / STORE) as db:
        rows = int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
    # ru_maxrss of children is the largest child's so far (KiB on Linux): the same
    # process in every round, so its maximum over rounds is the figure.
    return Run(wall=wall, cpu=cpu, peak_mib=after.ru_maxrss / 1024, sum_mib=peaks[0] / 1024,
               rows=rows)  # fmt: skip


def run(projects: list[Path], *, days: list[int], rounds: int) -> None:
    runs: dict[tuple[int, int], list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="tf-daemon-plan-") as tmp:
        for _ in range(rounds):
            for p, project in enumerate(projects):
                for d in days:
                    runs.setdefault((p, d), []).append(once(project, d, Path(tmp) / "work"))
    print(f"daemon_plan.rounds {rounds}")
    for (p, d), found in runs.items():
        name = f"daemon_plan.p{p}_{d}d"
        wall = [r.wall for r in found]
        print(f"{name}.project {projects[p]}")
        print(f"{name}.outbox_rows {found[-1].rows}")
        print(f"{name}.wall_seconds_median {statistics.median(wall):.2f}")
        print(f"{name}.wall_seconds_min_max {min(wall):.2f} {max(wall):.2f}")
        print(f"{name}.cpu_seconds_median {statistics.median(r.cpu for r in found):.2f}")
        print(f"{name}.peak_rss_mib_max {max(r.peak_mib for r in found):.0f}")
        print(f"{name}.all_processes_rss_mib_max {max(r.sum_mib for r in found):.0f}")
        if p:
            first = statistics.median(r.wall for r in runs[(0, d)])
            print(f"{name}.wall_vs_p0 {statistics.median(wall) / first:.2f}")


def _days(text: str) -> list[int]:
    return [int(d) for d in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    more = "a project made by bench/gen.py (again for another: 100k, then 1M)"
    parser.add_argument("--project", type=Path, action="append", default=[], help=more)
    parser.add_argument("--days", type=_days, default=[2, 30], help="horizons, e.g. 2,30")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="200 customers, 1 round, no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
            project = gen.make_project(Path(tmp) / "project")
            asyncio.run(gen.fill_store(project, 200, seed=1, now=gen.datetime.fromisoformat(NOW)))
            run([project], days=args.days, rounds=1)
        return
    if not args.project:
        parser.error("give --project DIR (made by bench/gen.py) or --smoke")
    run(args.project, days=args.days, rounds=max(1, args.rounds))


if __name__ == "__main__":
    main()
