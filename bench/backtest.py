"""`touchflow backtest` against `touchflow forecast` over as many days, interleaved.

    python bench/backtest.py --project /tmp/tf-100k [--days 30] [--rounds 3]
    python bench/backtest.py --smoke        # a 200-customer project in a tmp dir, 1 round

A project made by bench/gen.py holds ~1 appointment and ~0.5 coupon per customer and
quarter, spread over the 90 days before gen.py's "now". Each round runs, each in a fresh
process and one after the other (A B A B …):

- ``backtest``: `touchflow backtest --from NOW-DAYS --now NOW`, the past DAYS replayed
  moment by moment against the outbox (gen.py's is empty: every send the rules would
  have made is a difference; the table lists ten, the JSON all of them);
- ``forecast``: `touchflow forecast --days DAYS --now NOW`, the planner's own time over
  as many days ahead (counted, not rendered).

Both print their tables, as a person runs them; one more, untimed, run of the backtest
prints its JSON for the counts below.

One line per figure (``name value``), for scripts; the ratio is the median of the
per-round ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import gen

NOW = "2026-11-23T08:00:00+00:00"  # gen.py's default "now"


def once(argv: list[str], out: Path) -> float:
    started = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run([sys.executable, "-m", "touchflow", *argv], stdout=sink, check=True,
                       stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


def run(project: Path, *, days: int, rounds: int) -> None:
    start = (datetime.fromisoformat(NOW) - timedelta(days=days)).isoformat()
    common = ["--project", str(project), "--now", NOW]
    variants = {
        "backtest": ["backtest", "--from", start, *common],
        "forecast": ["forecast", "--days", str(days), *common],
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="tf-bench-backtest-") as name:
        out = Path(name)
        for _ in range(rounds):
            for variant, argv in variants.items():
                seconds[variant].append(once(argv, out / f"{variant}.txt"))
        once([*variants["backtest"], "--format", "json"], out / "backtest.json")
        replayed = json.loads((out / "backtest.json").read_text(encoding="utf-8"))
    print(f"backtest.days {days}")
    print(f"backtest.rounds {rounds}")
    print(f"backtest.customers {replayed['customers']}")
    print(f"backtest.would_send {replayed['would_send']}")
    for variant, runs in seconds.items():
        print(f"backtest.{variant}_seconds_median {statistics.median(runs):.2f}")
        print(f"backtest.{variant}_seconds_min_max {min(runs):.2f} {max(runs):.2f}")
    ratio = statistics.median(
        a / b for a, b in zip(seconds["backtest"], seconds["forecast"], strict=True)
    )
    print(f"backtest.ratio_to_forecast {ratio:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, help="a project made by bench/gen.py")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="200 customers, 1 round")
    args = parser.parse_args(argv)
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
            project = gen.make_project(Path(tmp) / "project")
            asyncio.run(gen.fill_store(project, 200, seed=1, now=datetime.fromisoformat(NOW)))
            run(project, days=args.days, rounds=1)
        return
    if args.project is None:
        parser.error("give --project DIR (made by bench/gen.py) or --smoke")
    run(args.project, days=args.days, rounds=max(1, args.rounds))


if __name__ == "__main__":
    main()
