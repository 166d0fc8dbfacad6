"""`touchflow forecast` as a user runs it: on the sample, and on projects written here."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from daemon_support import (
    ACK_ONLY,
    ANA,
    copy_sample,
    inquiry,
    smtp_config,
    touchflow,
    write_project,
)

NOW = "2026-11-23"  # a date: whole local days, as the preview counts them


def preview_all(project: Path, *args: str) -> list[dict[str, Any]]:
    out = touchflow("preview", "--format", "json", "--all", "--now", NOW, *args, cwd=project)
    items: list[dict[str, Any]] = json.loads(out.stdout)
    return items


def forecast_json(project: Path, *args: str) -> dict[str, Any]:
    out = touchflow("forecast", "--format", "json", "--now", NOW, *args, cwd=project)
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def counts(items: list[dict[str, Any]]) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """Planned per rule, and held per (rule, reason), of a preview's items."""
    planned = Counter(i["rule"] for i in items if i["status"] == "planned")
    held = Counter((i["rule"], i["reason"]) for i in items if i["status"] == "held")
    return planned, held


def forecast_counts(doc: dict[str, Any]) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    planned = Counter({r["rule"]: r["planned"] for r in doc["rules"] if r["planned"]})
    held = Counter({(r["rule"], why): n for r in doc["rules"] for why, n in r["held"].items()})
    return planned, held


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_forecast_totals_equal_the_previews_counts_for_the_same_window(
    sample: Path, jobs: str
) -> None:
    items = preview_all(sample, "--days", "60")
    doc = forecast_json(sample, "--days", "60", "--jobs", jobs)
    assert forecast_counts(doc) == counts(items)
    assert doc["planned"] == sum(1 for i in items if i["status"] == "planned") > 0
    assert doc["held"] == sum(1 for i in items if i["status"] == "held") > 0
    assert doc["held_by_reason"] == dict(sorted(Counter(i["reason"] for i in items
                                                        if i["reason"]).items()))  # fmt: skip
    assert doc["customers"] == 8


def test_forecast_filters_count_what_the_preview_of_that_rule_or_category_shows(
    sample: Path,
) -> None:
    items = preview_all(sample, "--days", "60", "--rule", "monthly-sale")
    doc = forecast_json(sample, "--days", "60", "--rule", "monthly-sale", "--by", "rule")
    assert [(g["group"], g["planned"], g["held"]) for g in doc["groups"]] == [
        ("monthly-sale", *(sum(1 for i in items if i["status"] == s) for s in ("planned", "held")))
    ]
    marketing = forecast_json(sample, "--days", "60", "--category", "marketing")
    everything = preview_all(sample, "--days", "60")
    assert marketing["planned"] == sum(
        1 for i in everything if i["status"] == "planned" and i["category"] == "marketing"
    )


@pytest.mark.parametrize("customer", ["c-001", "c-004", "c-008"])
def test_a_customers_forecast_totals_equal_the_preview_of_that_customer(
    sample: Path, customer: str
) -> None:
    items = preview_all(sample, "--days", "60", "--customer", customer)
    doc = forecast_json(sample, "--days", "60", "--customer", customer)
    assert forecast_counts(doc) == counts(items)
    assert doc["planned"] == sum(1 for i in items if i["status"] == "planned")
    assert doc["held"] == sum(1 for i in items if i["status"] == "held")
    assert doc["planned"] + doc["held"] > 0
    assert (doc["customers"], doc["filters"]["customer"]) == (1, [customer])
    assert doc["reached"] == (1 if doc["planned"] else 0)


def test_several_customers_forecast_is_the_sum_of_each_and_their_share_of_everyone(
    sample: Path,
) -> None:
    names = ("--customer", "c-004", "--customer", "c-001", "--customer", "c-004")
    doc = forecast_json(sample, "--days", "60", "--by", "rule", *names)
    one, four = (forecast_json(sample, "--days", "60", "--customer", c) for c in ("c-001", "c-004"))
    assert (doc["customers"], doc["filters"]["customer"]) == (2, ["c-004", "c-001"])
    assert doc["planned"] == one["planned"] + four["planned"]
    held = Counter(one["held_by_reason"]) + Counter(four["held_by_reason"])
    assert Counter(doc["held_by_reason"]) == held
    everyone = [
        i for i in preview_all(sample, "--days", "60") if i["customer"] in ("c-001", "c-004")
    ]
    assert forecast_counts(doc) == counts(everyone)


def test_a_customers_table_says_whom_it_counts(sample: Path) -> None:
    args = ("forecast", "--now", NOW, "--days", "7", "--customer", "c-001")
    table = touchflow(*args, cwd=sample).stdout
    assert "(only customer c-001):" in table.splitlines()[0]
    assert " of 1 customer, " in table.splitlines()[1]


def test_an_unknown_customer_is_refused_naming_each_unknown_id(sample: Path) -> None:
    names = ("--customer", "nope", "--customer", "c-001", "--customer", "gone")
    result = touchflow("forecast", "--now", NOW, *names, cwd=sample, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--customer: no customer 'gone' in the store" in result.stderr
    assert "--customer: no customer 'nope' in the store" in result.stderr
    assert "c-001" not in result.stderr
    assert "2 problems found." in result.stderr


@pytest.mark.parametrize("by", ["day", "week", "hour", "rule", "category"])
def test_each_by_groups_the_same_total(sample: Path, by: str) -> None:
    doc = forecast_json(sample, "--days", "30", "--by", by)
    assert doc["by"] == by
    assert sum(g["planned"] for g in doc["groups"]) == doc["planned"] > 0
    assert sum(g["held"] for g in doc["groups"]) == doc["held"]
    csv_lines = touchflow(
        "forecast", "--format", "csv", "--now", NOW, "--days", "30", "--by", by, cwd=sample
    ).stdout.splitlines()
    assert csv_lines[0] == f"{by},start,planned,held,marketing,transactional"
    assert [line.split(",")[0] for line in csv_lines[1:]] == [g["group"] for g in doc["groups"]]


def test_by_day_lists_every_day_of_the_window_and_by_hour_only_hours_with_sends(
    sample: Path,
) -> None:
    days = forecast_json(sample, "--days", "30")["groups"]
    assert [g["group"] for g in days][:2] == ["2026-11-23", "2026-11-24"]
    assert len(days) == 30
    hours = forecast_json(sample, "--days", "30", "--by", "hour")["groups"]
    assert all(g["planned"] or g["held"] for g in hours)


def burst_project(root: Path, rate: str) -> Path:
    """Six inquiries at 07:30 UTC, each acknowledged at once, through a relay allowing
    ``rate`` messages a second."""
    config = smtp_config(2525, extra=f"    rate: {rate}\n")
    events = [inquiry(n) for n in range(6)]
    return write_project(root, customers=[ANA], events=events, rules=ACK_ONLY, config=config)


def test_a_peak_hour_over_the_relays_rate_limit_is_a_warning(tmp_path: Path) -> None:
    project = burst_project(tmp_path, "0.001")  # 3.6 an hour
    args = ("--now", "2026-11-23T07:00:00Z", "--days", "1")
    table = touchflow("forecast", *args, cwd=project).stdout
    assert "Rate: warning: 1 hour has more sends than the rate limit" in table
    doc = json.loads(touchflow("forecast", *args, "--format", "json", cwd=project).stdout)
    rate = doc["rate_limit"]
    assert (rate["per_hour"], rate["hours_over"], rate["enough"]) == (3, 1, False)
    assert rate["peak_hour"]["planned"] == 6
    assert rate["longest_wait_seconds"] == 5000  # the sixth leaves 5 x 1000 s late


def test_a_rate_limit_the_peak_hour_fits_in_is_enough(tmp_path: Path) -> None:
    project = burst_project(tmp_path, "1")
    args = ("--now", "2026-11-23T07:00:00Z", "--days", "1", "--format", "json")
    rate = json.loads(touchflow("forecast", *args, cwd=project).stdout)["rate_limit"]
    assert (rate["enough"], rate["hours_over"]) == (True, 0)


def test_without_smtp_it_says_no_rate_limit_is_configured(sample: Path) -> None:
    table = touchflow("forecast", "--now", NOW, "--days", "7", cwd=sample).stdout
    assert "Rate: no rate limit configured (delivery.smtp.rate)" in table
    assert "Frequency: 0 customers get more than 3 marketing messages in 7 days" in table


def test_over_counts_customers_with_more_marketing_than_n(sample: Path) -> None:
    doc = forecast_json(sample, "--days", "60", "--over", "0")
    frequency = doc["frequency"]
    assert (frequency["limit"], frequency["source"], frequency["period"]) == (0, "--over", "7 days")
    assert frequency["customers_over"] == sum(frequency["customers_by_most"].values()) > 0


def test_an_unknown_rule_is_refused_naming_the_rules(sample: Path) -> None:
    result = touchflow("forecast", "--rule", "nope", cwd=sample, check=False)
    assert result.returncode == 2
    assert "--rule: no rule 'nope'; rules: appointment-reminder" in result.stderr


def test_a_forecast_from_postgresql_in_worker_processes_is_the_one_from_sqlite(
    tmp_path: Path, url: str
) -> None:
    (tmp_path / "sqlite").mkdir()
    (tmp_path / "postgresql").mkdir()
    on_sqlite = copy_sample(tmp_path / "sqlite")
    on_postgresql = copy_sample(tmp_path / "postgresql")
    args = ("forecast", "--format", "json", "--now", NOW, "--days", "60", "--by", "hour")
    expected = json.loads(touchflow(*args, "--jobs", "1", cwd=on_sqlite).stdout)
    env = {**os.environ, "TOUCHFLOW_STORE_URL": url}
    found = json.loads(touchflow(*args, "--jobs", "2", cwd=on_postgresql, env=env).stdout)
    assert found == expected
    assert not (on_postgresql / ".touchflow" / "store.sqlite3").exists()


def test_a_customers_forecast_from_postgresql_is_the_one_from_sqlite(
    tmp_path: Path, url: str
) -> None:
    (tmp_path / "sqlite").mkdir()
    (tmp_path / "postgresql").mkdir()
    on_sqlite = copy_sample(tmp_path / "sqlite")
    on_postgresql = copy_sample(tmp_path / "postgresql")
    args = ("forecast", "--format", "json", "--now", NOW, "--days", "60", "--by", "rule")
    names = ("--customer", "c-004", "--customer", "c-002")
    expected = json.loads(touchflow(*args, *names, cwd=on_sqlite).stdout)
    env = {**os.environ, "TOUCHFLOW_STORE_URL": url}
    found = json.loads(touchflow(*args, *names, cwd=on_postgresql, env=env).stdout)
    assert found == expected
    assert (found["customers"], found["planned"] > 0) == (2, True)
    unknown = touchflow(*args, "--customer", "c-999", cwd=on_postgresql, env=env, check=False)
    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert "--customer: no customer 'c-999' in the store" in unknown.stderr
