"""The explain benchmarks still run: forecast's and backtest's --smoke modes, on tiny data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_the_forecast_benchmark_times_the_command_and_the_planner_alone_on_one_project() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "forecast.py"), "--smoke"],
        capture_output=True, text=True, timeout=300, cwd=BENCH.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.strip())
    assert found["forecast.customers"] == "200"
    # The forecast counts every touchpoint the planner alone plans.
    assert found["forecast.same_count"] == "yes"
    assert float(found["forecast.ratio_to_planner"]) > 0
    assert float(found["forecast.forecast_tree_rss_mib_max"]) > 0  # sampled from /proc


def test_the_backtest_benchmark_times_the_replay_against_the_forecast() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "backtest.py"), "--smoke"],
        capture_output=True, text=True, timeout=300, cwd=BENCH.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.strip())
    assert found["backtest.customers"] == "200"
    assert int(found["backtest.would_send"]) > 0  # the replay found what the rules send
    assert float(found["backtest.ratio_to_forecast"]) > 0
