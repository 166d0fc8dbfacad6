"""`touchflow forecast` against the planner alone, on the same project, interleaved.

    python bench/forecast.py --project /tmp/tf-100k [--days 90] [--rounds 5] [--jobs N]
    python bench/forecast.py --smoke        # a 200-customer project in a tmp dir, 1 round

Each round runs, each in a fresh process and timed from outside (wall, and the CPU
of the process and its workers):
- ``forecast``: the real command, `touchflow forecast --format json --now NOW --days D`;
- ``planner``: what it cannot do without: read everyone from the store a page at a
  time and plan each page, in the same worker processes, keeping nothing
  (`bench/planner.py --pipeline-once`, as ``--pipeline`` measures it).
The forecast's cost over the planner's is its counting, its summary and its JSON.
Peak memory: the process tree's RSS (the command and its workers added up), sampled
from /proc every 20 ms (``bench/preview.py``'s sampler).
One line per figure (``name value``), for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import gen
from bench.preview import TreePeak

NOW = "2026-11-23T08:00:00+00:00"  # gen.py's default "now": the data is spread around it
HERE = Path(__file__).resolve()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (the process and its workers), the peak MiB of the
    process tree (its RSS and its workers' added up, sampled) and standard output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHFLOW_")}
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, text=True, env=env)
    sampler = TreePeak(proc.pid)
    out, _ = proc.communicate()
    wall = time.perf_counter() - started
    peak = sampler.stop() / 2**20
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode})")
    return wall, _children_cpu() - cpu, peak, out


def commands(root: Path, days: int, now: str, jobs: int | None) -> dict[str, list[str]]:
    forecast = [sys.executable, "-m", "touchflow", "forecast", "--project", str(root)]
    forecast += ["--format", "json", "--now", now, "--days", str(days)]
    planner = [sys.executable, str(HERE.parent / "planner.py"), "--project", str(root)]
    planner += ["--days", str(days), "--now", now, "--pipeline-once"]
    if jobs is not None:
        forecast += ["--jobs", str(jobs)]
        planner += ["--jobs", str(jobs)]
    return {"forecast": forecast, "planner": planner}


def run(root: Path, *, days: int, rounds: int, now: str, jobs: int | None) -> None:
    argvs = commands(root, days, now, jobs)
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in argvs}
    outputs: dict[str, str] = {}
    for n in range(rounds):
        # Interleaved, and the order swapped every round: neither always runs first.
        order = list(argvs) if n % 2 == 0 else list(reversed(argvs))
        for name in order:
            wall, cpu, peak, out = _timed(argvs[name], root)
            figures[name].append((wall, cpu, peak))
            outputs[name] = out
    doc = json.loads(outputs["forecast"])
    touchpoints = outputs["planner"].split()[2]  # once CUSTOMERS TOUCHPOINTS SECONDS ...
    print(f"forecast.customers {doc['customers']}")
    print(f"forecast.days {days}")
    print(f"forecast.rounds {rounds}")
    print(f"forecast.planned {doc['planned']}")
    print(f"forecast.held {doc['held']}")
    print(f"forecast.planner_touchpoints {touchpoints}")
    same = int(touchpoints) == doc["planned"] + doc["held"]
    print(f"forecast.same_count {'yes' if same else 'no'}")
    for name, runs in figures.items():
        walls = [wall for wall, _, _ in runs]
        print(f"forecast.{name}_seconds_median {statistics.median(walls):.2f}")
        print(f"forecast.{name}_seconds_min_max {min(walls):.2f} {max(walls):.2f}")
        print(f"forecast.{name}_cpu_seconds_median {statistics.median(c for _, c, _ in runs):.2f}")
        print(f"forecast.{name}_tree_rss_mib_max {max(p for _, _, p in runs):.0f}")
    for i, what in ((0, "ratio_to_planner"), (1, "cpu_ratio_to_planner")):
        one, other = (statistics.median(r[i] for r in figures[k]) for k in ("forecast", "planner"))
        print(f"forecast.{what} {one / other:.2f}")
    print("forecast.command " + " ".join(argvs["forecast"][1:]))
    print("forecast.planner_command " + " ".join(argvs["planner"][1:]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, help="a project made by bench/gen.py")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--now", default=NOW, help="window start (ISO 8601 with offset)")
    parser.add_argument("--jobs", type=int, help="processes for both (default: per core)")
    parser.add_argument("--smoke", action="store_true", help="200 customers, 1 round")
    args = parser.parse_args(argv)
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
            project = gen.make_project(Path(tmp) / "project")
            asyncio.run(gen.fill_store(project, 200, seed=1, now=datetime.fromisoformat(args.now)))
            run(project, days=args.days, rounds=1, now=args.now, jobs=args.jobs)
        return
    if args.project is None:
        parser.error("give --project DIR (made by bench/gen.py) or --smoke")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    run(args.project.resolve(), days=args.days, rounds=args.rounds, now=args.now, jobs=args.jobs)


if __name__ == "__main__":
    main()
