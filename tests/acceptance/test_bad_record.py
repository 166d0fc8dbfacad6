"""A record that cannot be planned, planted in the store past validation, stops no one else."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from daemon_support import outbox, touchflow


def latest_busy_hour(now: datetime) -> datetime:
    """The last 10:00 or 13:00 UTC before ``now``. The sample's three days of sends
    ending then always reach at least three other customers (at 14:00 on a Sunday, only
    one); `touchflow outbox --now` counts its "needs a look" (the last 24 hours) as of
    that instant too."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    times = [hour.replace(hour=h) - timedelta(days=d) for d in (0, 1) for h in (10, 13)]
    return max(t for t in times if t <= now)


# The sample is loaded relative to the first run.
LATER = latest_busy_hour(datetime.now(UTC))
NOW = (LATER - timedelta(days=3)).isoformat()
BAD = (
    "e-bad", "purchase_completed", "c-003", "9999-12-31T23:00:00.000000Z",
    '{"order_id": "o-9", "total": "1", "items": []}',
)  # fmt: skip


def plant_bad_event(project: Path) -> None:
    # What an older version, a hand edit or a bug could leave: the doors refuse it now.
    with sqlite3.connect(project / ".touchflow" / "store.sqlite3") as db:
        db.execute("INSERT INTO events (id, type, customer_id, at, data) VALUES (?,?,?,?,?)", BAD)


def errors(stderr: str) -> list[str]:
    return [line.partition("ERROR")[2].strip() for line in stderr.splitlines() if " ERROR " in line]


def sent_keys(project: Path) -> set[str]:
    return {row["key"] for row in outbox(project, "sent")}


@pytest.mark.slow  # five runs of the CLI on the sample: about 15 s
def test_an_event_at_the_year_9999_holds_its_customer_and_everyone_else_is_sent(
    sample: Path, tmp_path: Path
) -> None:
    touchflow("run", "--once", "--now", NOW, cwd=sample)
    open_before = {row["key"] for row in outbox(sample, "pending") if row["customer"] == "c-003"}
    assert open_before  # a row the bad record will hold
    control = tmp_path / "control"
    shutil.copytree(sample, control)
    plant_bad_event(sample)
    later = LATER.isoformat()  # three days of sends after the bad record came

    run = touchflow("run", "--once", "--now", later, cwd=sample)
    touchflow("run", "--once", "--now", later, cwd=control)
    again = touchflow("run", "--once", "--now", later, cwd=sample)

    others = {key for key in sent_keys(control) if ":c-003:" not in key}
    assert others - sent_keys(sample) == set()  # every other customer still sent
    assert len(others) >= 3
    held = [row for row in outbox(sample) if row["customer"] == "c-003"]
    assert held and all(row["state"] in ("sent", "cancelled") for row in held)
    detail = (
        "customer c-003 could not be planned: event e-bad (purchase_completed) at "
        '"9999-12-31T23:00:00+00:00" lies outside the years touchflow accepts '
        "(1900-01-01 to 2200-12-31)"
    )
    for row in held:
        if row["state"] == "cancelled":
            assert (row["reason"], row["detail"]) == ("invalid_data", detail), row
    # A row c-003 had pending before is held for the same reason, not "no longer planned".
    assert open_before & {row["key"] for row in held if row["reason"] == "invalid_data"}
    assert errors(run.stderr) == [
        f"{detail}; their touchpoints are held (invalid_data) until it is corrected"
        "  [customer=c-003]"
    ]
    assert len(errors(again.stderr)) == 1  # once per process: each run is a new one
    preview = touchflow("preview", "--all", "--now", later, "--customer", "c-003", cwd=sample)
    assert "invalid_data" in preview.stdout
    summary = touchflow("outbox", "--now", later, cwd=sample).stdout
    assert "Needs a look: 1 customer held: their data could not be planned" in summary
    as_json = touchflow("outbox", "--now", later, "--format", "json", cwd=sample).stdout
    problems = json.loads(as_json)["problems"]
    assert [(p["reason"], p["customers"]) for p in problems] == [("invalid_data", 1)]
