"""The benchmarks still run: each script's --smoke mode, on tiny data, printing its figures.

No timing is asserted here (the machines are shared and noisy); the figures
themselves live in docs/performance.md.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pg_support import require_server

BENCH = Path(__file__).resolve().parents[2] / "bench"


def figures(script: str, *args: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCH.parent,
    )
    assert result.returncode == 0, result.stderr
    lines = [line.split(" ", 1) for line in result.stdout.splitlines() if line.strip()]
    return {name: value for name, value in lines}


def test_the_render_benchmark_compares_touchflow_with_bare_jinja() -> None:
    found = figures("render.py")
    assert {"render.touchflow_per_s", "render.bare_per_s", "render.ratio"} <= found.keys()
    assert float(found["render.ratio"]) > 0


@pytest.mark.skipif(
    shutil.which("smtp-sink") is None and not Path("/usr/sbin/smtp-sink").exists(),
    reason="needs Postfix's smtp-sink (apt-get install postfix; .ci/run does)",
)
def test_the_dispatch_benchmark_sends_through_touchflow_raw_aiosmtplib_and_smtp_source() -> None:
    found = figures("dispatch.py")
    assert found["dispatch.messages"] == "50"
    for name in ("touchflow", "raw", "smtp_source"):
        assert float(found[f"dispatch.{name}_msgs_per_s"]) > 0


def test_the_daemon_memory_benchmark_runs_the_timer_jobs_and_reports_rss() -> None:
    found = figures("daemon_memory.py")
    assert found["memory.customers"] == "200"
    assert float(found["memory.rss_mib_peak"]) >= float(found["memory.rss_mib_after_load"]) > 0


@pytest.mark.skipif(
    shutil.which("smtp-sink") is None and not Path("/usr/sbin/smtp-sink").exists(),
    reason="needs Postfix's smtp-sink (apt-get install postfix; .ci/run does)",
)
def test_the_crash_cost_benchmark_times_the_first_send_after_a_sigkill() -> None:
    found = figures("crash_cost.py")
    assert float(found["crash.seconds_to_first_send_median"]) > 0


def test_the_compose_benchmark_compares_with_the_stdlib_and_parses_every_message_back() -> None:
    found = figures("compose.py")
    assert float(found["compose.ratio"]) > 0
    done, total = found["compose.parse_back_ok"].split("/")
    assert done == total


def test_the_planner_benchmark_reports_evaluations_per_second_and_the_paged_pipeline() -> None:
    found = figures("planner.py")
    assert float(found["planner.evals_per_s"]) > 0
    # Planning page by page finds exactly what planning everyone at once finds.
    assert found["pipeline.customers"] == found["planner.customers"] == "200"
    assert found["pipeline.touchpoints"] == found["planner.touchpoints"] != "0"
    assert float(found["pipeline.peak_rss_mib_max"]) > 0


def test_the_preview_benchmark_runs_one_process_and_one_per_core_to_the_same_document() -> None:
    found = figures("preview.py")
    assert found["preview.same_document"] == "yes"
    assert int(found["preview.json_bytes"]) > 2
    assert float(found["preview.speedup"]) > 0
    assert float(found["preview.cores_tree_rss_mib_median"]) > 0  # sampled from /proc


def test_the_import_memory_benchmark_imports_customers_and_events_and_reports_peak_rss() -> None:
    found = figures("import_memory.py")
    assert found["import.customers"] == "300"
    for what in ("customers", "events"):
        assert float(found[f"import.now.{what}_peak_rss_mib_max"]) > 0


def test_the_daemon_plan_benchmark_runs_the_first_full_plan_for_each_horizon() -> None:
    found = figures("daemon_plan.py")
    for days in (2, 30):
        assert float(found[f"daemon_plan.p0_{days}d.wall_seconds_median"]) > 0
        assert float(found[f"daemon_plan.p0_{days}d.all_processes_rss_mib_max"]) > 0
    # A longer horizon plans at least what a shorter one does.
    assert (
        int(found["daemon_plan.p0_30d.outbox_rows"])
        > int(found["daemon_plan.p0_2d.outbox_rows"])
        > 0
    )


def test_the_startup_benchmark_times_a_second_run_once_on_the_sample() -> None:
    found = figures("startup.py")
    assert found["startup.rounds"] == "1"
    assert float(found["startup.now_cpu_s_median"]) > 0
    assert float(found["startup.now_peak_rss_mib_median"]) > 0


def test_the_driver_benchmark_writes_and_claims_every_row() -> None:
    require_server()
    found = figures("pg_drivers.py")
    assert found["drivers.psycopg_claimed"] == found["drivers.rows"] == "200"
    assert float(found["drivers.psycopg_executemany_ms"]) > 0


@pytest.mark.skipif(
    shutil.which("smtp-sink") is None and not Path("/usr/sbin/smtp-sink").exists(),
    reason="needs Postfix's smtp-sink (apt-get install postfix; .ci/run does)",
)
def test_the_store_dispatch_benchmark_sends_everything_from_sqlite_and_from_postgresql() -> None:
    require_server()
    found = figures("pg_dispatch.py")
    assert found["pg_dispatch.messages"] == "50"
    assert float(found["pg_dispatch.ratio_postgresql_to_sqlite"]) > 0


def test_the_claim_benchmark_finishes_every_row_once_with_one_and_three_claimers() -> None:
    require_server()
    found = figures("pg_claims.py")
    assert found["pg_claims.rows"] == "300"
    # The script stops with an error unless the server counts every row sent exactly once.
    for n in ("p1", "p3"):
        assert found[f"pg_claims.{n}_claimed_twice"] == "0"
        assert float(found[f"pg_claims.{n}_claims_per_s"]) > 0


@pytest.mark.skipif(
    shutil.which("smtp-sink") is None and not Path("/usr/sbin/smtp-sink").exists(),
    reason="needs Postfix's smtp-sink (apt-get install postfix; .ci/run does)",
)
def test_the_instances_benchmark_sends_everything_once_with_one_and_with_two_daemons() -> None:
    require_server()
    found = figures("pg_instances.py")
    assert found["pg_instances.messages"] == "50"
    for daemons in ("d1", "d2"):
        assert 0 < float(found[f"pg_instances.{daemons}_planned_s"])
        assert float(found[f"pg_instances.{daemons}_planned_s"]) <= float(
            found[f"pg_instances.{daemons}_sent_s"]
        )


def test_the_diff_benchmark_runs_diff_and_preview_interleaved() -> None:
    found = figures("diff.py")
    for name in ("preview", "preview_json", "diff_rules", "diff_template"):
        assert float(found[f"diff.{name}_seconds_median"]) > 0
    assert float(found["diff.diff_rules_over_preview"]) > 0


def test_the_console_benchmark_times_every_page_of_a_running_daemon() -> None:
    found = figures("console.py")
    assert (found["console.customers"], found["console.rows"]) == ("200", "3000")
    pages = ("calendar", "day", "outbox_first", "outbox_deep", "outbox_failed_deep",
             "outbox_rule_deep", "customer", "rules", "health")  # fmt: skip
    for page in pages:
        assert (
            0 < float(found[f"console.{page}_ms_median"]) <= float(found[f"console.{page}_ms_p95"])
        )
    assert float(found["console.calendar_count_seconds"]) >= 0
    assert float(found["console.rules_count_seconds"]) >= 0  # the diff against HEAD, kept
