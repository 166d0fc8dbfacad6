"""A preview is a promise: what `run --once`, stepped hourly, sends and holds is what
`preview --all` showed at the start."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from daemon_support import invoke

from touchflow.cli import daemon as cli_daemon
from touchflow.project import Project

START = datetime(2026, 11, 22, 9, tzinfo=UTC)  # the instant of issue 12's report
DAYS = 14
HOUR = timedelta(hours=1)
ON_THE_BOUNDARY = "monthly-sale:c-001:2026-12-01:0"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def promised(items: list[dict[str, object]]) -> dict[str, str]:
    """Each key the preview shows: "sent" for a planned one, else the reason it is held."""
    return {str(i["key"]): str(i["reason"] or "sent") for i in items}


def kept(rows: list[dict[str, object]], end: datetime) -> dict[str, str]:
    """Each key the outbox holds due before ``end``: "sent", or the reason it was not."""
    return {
        str(r["key"]): "sent" if r["state"] == "sent" else str(r["reason"])
        for r in rows
        if utc(str(r["due_at"])) < end
    }


@pytest.fixture
def rules_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` reads rules and templates once, not at every step: parsing and compiling
    the same unchanged files took 85 % of each step's time. The rest of the command
    runs as it is."""
    loaded: dict[Path, Project] = {}
    load = cli_daemon.load_with_links

    def load_once(root: Path, environ: Mapping[str, str]) -> Project:
        if root not in loaded:
            loaded[root] = load(root, environ)
        return loaded[root]

    monkeypatch.setattr(cli_daemon, "load_with_links", load_once)


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """`run` in this process sets up logging as a command does, for the whole process:
    the loggers are put back as they were, or later tests' caplog would see nothing."""
    loggers = [logging.getLogger(name) for name in ("touchflow", "apscheduler", "uvicorn")]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, handlers, level, propagate in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


@pytest.mark.slow  # 337 runs of `run --once`: ~10 s
@pytest.mark.usefixtures("rules_read_once", "logging_restored")
def test_an_hourly_cron_sends_and_holds_exactly_what_the_preview_promised(
    sample: Path,
) -> None:
    """From a fixed start, `run --once` every hour for a fortnight, as cron would: every
    key it sent, and every key it held with its reason, is what `preview --all` showed
    at the start. No event arrives meanwhile, so there is no difference to explain."""
    end = START + timedelta(days=DAYS)
    at = START.isoformat()
    shown = json.loads(
        invoke(sample, "preview", "--now", at, "--days", str(DAYS), "--all", "--format",
               "json", "--jobs", "1").stdout
    )  # fmt: skip
    # On the cap's boundary (3 marketing per 7 days): c-001's anniversary thanks, birthday
    # card and coupon reminder fall in the 7 days before it, the first exactly 7 days before.
    assert promised(shown)[ON_THE_BOUNDARY] == "sent"

    for hour in range(DAYS * 24 + 1):
        at = (START + hour * HOUR).isoformat()
        invoke(sample, "run", "--once", "--now", at, "--log-level", "error")

    rows = json.loads(
        invoke(sample, "outbox", "--state", "sent", "--state", "cancelled", "--state",
               "suppressed", "--state", "failed", "--state", "expired", "--state", "pending",
               "--limit", "10000", "--format", "json").stdout
    )["rows"]  # fmt: skip
    # The sample's inquiry from five minutes before it was loaded was already due: not in
    # a preview that starts now, answered by the first run.
    assert kept(rows, end) == {
        **promised(shown),
        "inquiry-acknowledgement:c-006:q-3000:0": "sent",
    }
