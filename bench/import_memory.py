"""`touchflow import customers|events` of big files: peak memory and wall, the real command.

    python bench/import_memory.py [--customers 1000000] [--rounds 3] [--baseline DIR]
    python bench/import_memory.py --smoke        # 300 customers, 1 round, no timing

Writes a customers CSV and an events JSONL (bench/gen.py's synthetic customers and
their events, about 1.6 per customer) once, then each round imports both into a
fresh copy of an empty project, each command a fresh process: its wall time and its
own peak RSS (``wait4``). ``--baseline DIR``: also run the same commands with
another source tree of touchflow first on ``PYTHONPATH`` (e.g. an older commit
unpacked with ``git archive``), interleaved round by round, to compare before and
after in one run. One line per figure (``name value``), for scripts.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import gen

NOW = datetime.fromisoformat("2026-11-23T08:00:00+00:00")  # gen.py's default "now"
COLUMNS = (
    "id", "email", "first_name", "last_name", "timezone", "locale", "country",
    "birthday", "customer_since", "consent_marketing", "tier",
)  # fmt: skip


def write_files(out: Path, n: int) -> tuple[Path, Path]:
    """``customers.csv`` and ``events.jsonl`` of ``n`` synthetic customers."""
    rng = random.Random(1)
    customers, events = out / "customers.csv", out / "events.jsonl"
    with customers.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for c in gen.customers(n, rng, NOW.date()):
            writer.writerow((
                c.id, c.email, c.first_name, c.last_name, c.timezone, c.locale, c.country,
                c.birthday, c.customer_since, str(c.consent_marketing).lower(),
                c.attributes["tier"],
            ))  # fmt: skip
    with events.open("w", encoding="utf-8") as file:
        for e in gen.events(n, rng, NOW):
            line = {"id": e.id, "type": e.type, "customer": e.customer_id}
            file.write(json.dumps({**line, "at": e.at.isoformat(), "data": e.data}) + "\n")
    return customers, events


def once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one command, which must succeed."""
    started = time.perf_counter()
    # cwd: `python -m` looks there first; not the repository, or --baseline would not count.
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    errors = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{errors}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def run(n: int, *, rounds: int, baseline: Path | None) -> None:
    variants = {"now": os.environ.copy()}
    if baseline is not None:
        env = os.environ.copy()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(baseline), env.get("PYTHONPATH")]))
        variants = {"before": env, **variants}
    figures: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="tf-import-") as tmp:
        root = Path(tmp)
        customers, events = write_files(root, n)
        empty = gen.make_project(root / "empty")
        for _ in range(rounds):
            for name, env in variants.items():
                project = root / "project"
                shutil.rmtree(project, ignore_errors=True)
                shutil.copytree(empty, project)
                for what, path in (("customers", customers), ("events", events)):
                    argv = [sys.executable, "-m", "touchflow", "import", what, str(path)]
                    figures.setdefault(f"{name}.{what}", []).append(
                        once([*argv, "--project", str(project)], env, root)
                    )
        print(f"import.customers {n}")
        print(f"import.events_lines {sum(1 for _ in events.open('rb'))}")
        print(f"import.customers_csv_mib {customers.stat().st_size / 2**20:.0f}")
        print(f"import.events_jsonl_mib {events.stat().st_size / 2**20:.0f}")
    print(f"import.rounds {rounds}")
    for name, runs in figures.items():
        seconds, rss = [s for s, _ in runs], [r for _, r in runs]
        print(f"import.{name}_seconds_median {statistics.median(seconds):.2f}")
        print(f"import.{name}_seconds_min_max {min(seconds):.2f} {max(seconds):.2f}")
        print(f"import.{name}_peak_rss_mib_median {statistics.median(rss):.0f}")
        print(f"import.{name}_peak_rss_mib_max {max(rss):.0f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another touchflow source tree to compare")
    parser.add_argument("--smoke", action="store_true", help="300 customers, 1 round")
    args = parser.parse_args(argv)
    if args.smoke:
        run(300, rounds=1, baseline=args.baseline)
        return
    run(args.customers, rounds=max(1, args.rounds), baseline=args.baseline)


if __name__ == "__main__":
    main()
