"""`touchflow preview --format json` end to end: one process vs one per core, interleaved.

    python bench/preview.py --project /tmp/tf-100k [--days 30] [--rounds 5]
    python bench/preview.py --smoke        # a 200-customer project in a tmp dir, 1 round

Runs the real command in a fresh process each round, with `--jobs 1` and with
one process per core (the default for a large store), and checks that both
print the same document. Peak RSS is that of the largest process of the run (the command or
one of its workers). One line per figure (``name value``), for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import gen

NOW = "2026-11-23T08:00:00+00:00"  # gen.py's default "now"
CORES = min(os.cpu_count() or 1, 4)  # what `preview` uses by default for a large store
# Runs a command and prints the peak RSS (KiB) of the largest process it waited for.
_MEASURED = (
    "import resource, subprocess, sys\n"
    "with open(sys.argv[1], 'wb') as out: subprocess.run(sys.argv[2:], stdout=out, check=True)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def once(root: Path, days: int, jobs: str, out: Path) -> tuple[float, float, str]:
    argv = [sys.executable, "-m", "touchflow", "preview", "--project", str(root)]
    argv += ["--now", NOW, "--days", str(days), "--format", "json"]
    argv += ["--jobs", jobs]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, str(out), *argv],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    return seconds, int(done.stdout.split()[-1]) / 1024, digest


def run(root: Path, *, days: int, rounds: int) -> None:
    figures: dict[str, list[tuple[float, float]]] = {"one": [], "cores": []}
    digests: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="tf-preview-") as tmp:
        out = Path(tmp) / "preview.json"
        for _ in range(rounds):
            for name, jobs in (("one", "1"), ("cores", str(CORES))):
                seconds, rss, digest = once(root, days, jobs, out)
                figures[name].append((seconds, rss))
                digests.add(digest)
        size = out.stat().st_size
    print(f"preview.days {days}")
    print(f"preview.rounds {rounds}")
    print(f"preview.json_bytes {size}")
    print(f"preview.same_document {'yes' if len(digests) == 1 else 'NO'}")
    for name, runs in figures.items():
        seconds = [s for s, _ in runs]
        print(f"preview.{name}_seconds_median {statistics.median(seconds):.2f}")
        print(f"preview.{name}_seconds_min_max {min(seconds):.2f} {max(seconds):.2f}")
        print(f"preview.{name}_peak_rss_mib_max {max(r for _, r in runs):.0f}")
    one = statistics.median(s for s, _ in figures["one"])
    cores = statistics.median(s for s, _ in figures["cores"])
    print(f"preview.speedup {one / cores:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, help="a project made by bench/gen.py")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="200 customers, 1 round, no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
            project = gen.make_project(Path(tmp) / "project")
            asyncio.run(gen.fill_store(project, 200, seed=1, now=gen.datetime.fromisoformat(NOW)))
            run(project, days=args.days, rounds=1)
        return
    if args.project is None:
        parser.error("give --project DIR (made by bench/gen.py) or --smoke")
    run(args.project, days=args.days, rounds=max(1, args.rounds))


if __name__ == "__main__":
    main()
