"""`touchflow preview --format json` end to end: one process vs one per core, interleaved.

    python bench/preview.py --project /tmp/tf-100k [--days 30] [--rounds 5] [--jobs 2]
    python bench/preview.py --project /tmp/tf-100k --baseline /tmp/base   # before vs after
    python bench/preview.py --smoke        # a 200-customer project in a tmp dir, 1 round

Runs the real command in a fresh process each round, with `--jobs 1` and with
one process per core (the default for a large store, or `--jobs N`), and checks
that every run prints the same document. Two memory figures per run: the peak
RSS of the largest single process (the command or one of its workers, as the
kernel counts it), and the peak of the whole process tree, the RSS of the
command and all its workers added up, sampled from /proc every 20 ms (Linux;
0 elsewhere). The workers run at once, so the tree's peak is what the machine
must hold.

``--baseline DIR``: also run the package found in DIR (``git archive HEAD
touchflow | tar -x -C DIR``) through PYTHONPATH, interleaved with this one
(A B A B), from a scratch directory so that no editable install shadows it.
One line per figure (``name value``), for scripts.
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
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import gen

NOW = "2026-11-23T08:00:00+00:00"  # gen.py's default "now"
CORES = min(os.cpu_count() or 1, 4)  # what `preview` uses by default for a large store
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Runs a command and prints the peak RSS (KiB) of the largest process it waited for.
_MEASURED = (
    "import resource, subprocess, sys\n"
    "with open(sys.argv[1], 'wb') as out: subprocess.run(sys.argv[2:], stdout=out, check=True)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and all its descendants now (0 where /proc cannot say)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or no /proc
        todo.extend(int(c) for c in children)
    return total


class TreePeak:
    """The largest ``tree_rss`` of a process seen while it runs, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(pid, every), daemon=True)
        self._thread.start()

    def _sample(self, pid: int, every: float) -> None:
        while not self._done.wait(every):
            self.peak = max(self.peak, tree_rss(pid))

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak


def once(
    root: Path, days: int, jobs: str, out: Path, package: Path | None
) -> tuple[float, float, float, str]:
    """Seconds, largest process's peak MiB, tree's peak MiB, and the document's digest."""
    argv = [sys.executable, "-m", "touchflow", "preview", "--project", str(root)]
    argv += ["--now", NOW, "--days", str(days), "--format", "json", "--jobs", jobs]
    env = dict(os.environ)
    if package is not None:
        env["PYTHONPATH"] = str(package)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _MEASURED, str(out), *argv],
        stdout=subprocess.PIPE, text=True, env=env, cwd=out.parent,
    )  # fmt: skip
    sampler = TreePeak(proc.pid)
    stdout, _ = proc.communicate()
    seconds = time.perf_counter() - started
    tree = sampler.stop()
    if proc.returncode:
        raise SystemExit(f"preview --jobs {jobs} failed ({proc.returncode})")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    # The measuring interpreter is in the tree too: about 10 MiB, the same for every run.
    return seconds, int(stdout.split()[-1]) / 1024, tree / 2**20, digest


Runs = dict[str, list[tuple[float, float, float]]]


def run(
    root: Path, *, days: int, rounds: int, jobs: int = CORES, baseline: Path | None = None
) -> None:
    variants: list[tuple[str, str, Path | None]] = [("one", "1", None), ("cores", str(jobs), None)]
    if baseline is not None:
        variants += [("base_one", "1", baseline), ("base_cores", str(jobs), baseline)]
    figures: Runs = {name: [] for name, _, _ in variants}
    digests: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="tf-preview-") as tmp:
        out = Path(tmp) / "preview.json"
        for _ in range(rounds):
            for name, n, package in variants:
                seconds, rss, tree, digest = once(root, days, n, out, package)
                figures[name].append((seconds, rss, tree))
                digests.add(digest)
        size = out.stat().st_size
    report(figures, days=days, rounds=rounds, size=size, same=len(digests) == 1)


def report(figures: Runs, *, days: int, rounds: int, size: int, same: bool) -> None:
    print(f"preview.days {days}")
    print(f"preview.rounds {rounds}")
    print(f"preview.json_bytes {size}")
    print(f"preview.same_document {'yes' if same else 'NO'}")
    for name, runs in figures.items():
        seconds = [s for s, _, _ in runs]
        print(f"preview.{name}_seconds_median {statistics.median(seconds):.2f}")
        print(f"preview.{name}_seconds_min_max {min(seconds):.2f} {max(seconds):.2f}")
        print(f"preview.{name}_peak_rss_mib_max {max(r for _, r, _ in runs):.0f}")
        print(f"preview.{name}_tree_rss_mib_median {statistics.median(t for *_, t in runs):.0f}")
    for prefix in ("", "base_"):
        if f"{prefix}one" not in figures:
            continue
        one, cores = figures[f"{prefix}one"], figures[f"{prefix}cores"]
        speed = statistics.median(a[0] / b[0] for a, b in zip(one, cores, strict=True))
        tree = statistics.median(b[2] / a[2] for a, b in zip(one, cores, strict=True))
        print(f"preview.{prefix}speedup {speed:.2f}")
        print(f"preview.{prefix}tree_rss_cores_over_one {tree:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, help="a project made by bench/gen.py")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=CORES, help="processes to compare with one")
    parser.add_argument("--baseline", type=Path, help="a directory holding another touchflow/")
    parser.add_argument("--smoke", action="store_true", help="200 customers, 1 round, no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
            project = gen.make_project(Path(tmp) / "project")
            asyncio.run(gen.fill_store(project, 200, seed=1, now=gen.datetime.fromisoformat(NOW)))
            run(project, days=args.days, rounds=1, jobs=max(2, args.jobs))
        return
    if args.project is None:
        parser.error("give --project DIR (made by bench/gen.py) or --smoke")
    rounds = max(1, args.rounds)
    run(args.project, days=args.days, rounds=rounds, jobs=args.jobs, baseline=args.baseline)


if __name__ == "__main__":
    main()
