"""Start-up: `touchflow run --once` on the repository's sample project, the real command.

    python bench/startup.py [--rounds 11] [--baseline DIR]
    python bench/startup.py --smoke        # 1 round, no timing

Copies the sample project (the repository root's touchflow.yaml, rules/,
message_templates/ and sample/) into a temporary directory and runs
``touchflow run --once`` there once, as README's first command does (it loads the
sample data into the store, plans and sends what is due). Then each round runs it
again with ``--log-level error``, a fresh process: a cron run on a loaded store,
nothing or little to send, so what it measures is starting up (imports, loading and
checking the project, opening the store, planning eight customers). Per run: wall,
CPU (user + system, from ``wait4``) and peak RSS.

``--baseline DIR``: also the same with another touchflow source tree first on
``PYTHONPATH`` (e.g. ``git archive COMMIT touchflow | tar -x -C DIR``), on a copy of
the project of its own, interleaved round by round (before, now, before, now…), and
the ratio now/before pair by pair. Python's bytecode caches are written and used (as
after an install), whatever ``PYTHONDONTWRITEBYTECODE`` says here.
One line per figure (``name value``), for scripts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PARTS = ("touchflow.yaml", "rules", "message_templates", "sample")
COMMAND = ("run", "--once", "--log-level", "error")


def copy_sample(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for part in SAMPLE_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part)
        else:
            shutil.copy(source, dest / part)
    return dest


def once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one command, which must succeed."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    errors = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed in {cwd}:\n{errors}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # KiB on Linux


def variants(baseline: Path | None) -> dict[str, dict[str, str]]:
    env = os.environ.copy()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    found = {"now": env}
    if baseline is not None:
        before = env.copy()
        paths = [str(baseline), env.get("PYTHONPATH", "")]
        before["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
        found = {"before": before, **found}
    return found


def fmt(value: float, what: str) -> str:
    return f"{value:.0f}" if what == "peak_rss_mib" else f"{value:.3f}"


def report(figures: dict[str, list[tuple[float, float, float]]], rounds: int) -> None:
    print(f"startup.rounds {rounds}")
    for name, runs in figures.items():
        for index, what in enumerate(("wall_s", "cpu_s", "peak_rss_mib")):
            values = [run[index] for run in runs]
            low, mid, high = (
                fmt(v, what) for v in (min(values), statistics.median(values), max(values))
            )
            print(f"startup.{name}_{what}_median {mid}")
            print(f"startup.{name}_{what}_min_max {low} {high}")
    if "before" in figures:
        pairs = list(zip(figures["now"], figures["before"], strict=True))
        for index, what in ((0, "wall"), (1, "cpu")):
            ratios = [now[index] / before[index] for now, before in pairs]
            print(f"startup.ratio_{what}_median {statistics.median(ratios):.2f}")


def run(*, rounds: int, baseline: Path | None) -> None:
    envs = variants(baseline)
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in envs}
    with tempfile.TemporaryDirectory(prefix="tf-startup-") as tmp:
        projects = {name: copy_sample(Path(tmp) / name) for name in envs}
        for name, env in envs.items():  # README's first run: loads the sample into the store
            once([sys.executable, "-m", "touchflow", "run", "--once"], env, projects[name])
        for _ in range(rounds):
            for name, env in envs.items():
                argv = [sys.executable, "-m", "touchflow", *COMMAND]
                figures[name].append(once(argv, env, projects[name]))
    report(figures, rounds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--baseline", type=Path, help="another touchflow source tree to compare")
    parser.add_argument("--smoke", action="store_true", help="1 round")
    args = parser.parse_args(argv)
    run(rounds=1 if args.smoke else max(1, args.rounds), baseline=args.baseline)


if __name__ == "__main__":
    main()
