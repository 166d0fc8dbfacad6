"""`touchflow run --once` and friends as a user runs them on a project whose store is a
PostgreSQL database: chosen by touchflow.yaml's `store:` or by TOUCHFLOW_STORE_URL,
planned into PostgreSQL, sent to a real SMTP server, no SQLite file made."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import psycopg
from daemon_support import (
    ACK_ONLY,
    DaemonProcess,
    by_key,
    inquiry,
    outbox,
    smtp_config,
    touchflow,
    write_project,
)
from smtp_support import Handler, serve

from touchflow.messages.compose import message_id_for
from touchflow.store.postgres import SCHEMA_VERSION as PG_VERSION

NOW = "2026-11-23T08:00:00Z"
N = 20
SQLITE_FILE = Path(".touchflow") / "store.sqlite3"


def customers() -> list[dict[str, str]]:
    return [
        {"id": f"c{i:02d}", "email": f"u{i}@example.com", "first_name": "Kim"} for i in range(N)
    ]


def message_ids(handler: Handler) -> list[str]:
    found = (re.search(rb"^Message-ID: (\S+)\r?$", c, re.M | re.I) for _, _, c in handler.received)
    return sorted(m.group(1).decode() for m in found if m)


def expected_keys() -> set[str]:
    return {f"ack:c{i:02d}:q-{i}:0" for i in range(N)}


def test_run_once_plans_into_postgresql_and_sends_each_touchpoint_once(
    tmp_path: Path, url: str
) -> None:
    handler = Handler()
    with serve(handler) as port:
        project = write_project(
            tmp_path,
            customers=customers(),
            events=[inquiry(i, customer=f"c{i:02d}", subject=f"q-{i}") for i in range(N)],
            rules=ACK_ONLY,
            config=smtp_config(port) + f"store: {url}\n",
        )
        first = touchflow("run", "--once", "--now", NOW, cwd=project).stdout
        again = touchflow("run", "--once", "--now", NOW, cwd=project).stdout
    assert f"Dispatched: {N} sent." in first, first
    assert again.startswith("Dispatched: nothing."), again
    assert message_ids(handler) == sorted(message_id_for(k, "example.com") for k in expected_keys())
    sent = by_key(outbox(project, "sent"))
    assert set(sent) == expected_keys()
    # The rows are in PostgreSQL, and no SQLite file was made beside the project.
    with psycopg.connect(url) as db:
        row = db.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()
    assert row == (N,)
    assert not (project / SQLITE_FILE).exists()


def test_touchflow_store_url_wins_over_the_file_in_touchflow_yaml(tmp_path: Path, url: str) -> None:
    handler = Handler()
    with serve(handler) as port:
        project = write_project(
            tmp_path,
            customers=customers()[:3],
            events=[inquiry(i, customer=f"c{i:02d}", subject=f"q-{i}") for i in range(3)],
            rules=ACK_ONLY,
            config=smtp_config(port) + "store: state/shop.sqlite3\n",
        )
        env = {**os.environ, "TOUCHFLOW_STORE_URL": url}
        ran = touchflow("run", "--once", "--now", NOW, cwd=project, env=env)
        assert "--now sets this daemon's clock only" in ran.stderr  # others may share it
        listed = touchflow("outbox", "--format", "json", cwd=project, env=env).stdout
    assert len(handler.received) == 3
    assert json.loads(listed)["counts"]["sent"] == 3
    assert not (project / "state").exists()
    migrated = touchflow("store", "migrate", cwd=project, env=env).stdout
    assert (
        migrated.startswith("Store postgresql://") and f"schema version {PG_VERSION}." in migrated
    )


def test_a_password_in_touchflow_yaml_is_a_problem_at_its_line(tmp_path: Path) -> None:
    project = write_project(
        tmp_path, customers=[], rules=ACK_ONLY,
        config=smtp_config(25) + "store: postgresql://shop:s3cret@db.internal/shop\n",
    )  # fmt: skip
    result = touchflow("validate", cwd=project, check=False)
    assert result.returncode == 2
    assert re.search(
        r"touchflow\.yaml:\d+: store: postgresql://db\.internal/shop: a password", result.stderr
    )
    assert "s3cret" not in result.stderr + result.stdout


def test_sample_reset_on_postgresql_drops_the_store_and_loads_the_sample_again(
    tmp_path: Path, url: str
) -> None:
    config = smtp_config(25) + f"store: {url}\n"
    project = write_project(tmp_path, customers=customers()[:2], rules=ACK_ONLY, config=config)
    touchflow("sample", cwd=project)
    touchflow("customers", "delete", "c00", "--yes", cwd=project)
    assert "1 customer" in touchflow("customers", "list", cwd=project).stdout
    reset = touchflow("sample", "--reset", "--yes", cwd=project).stdout
    assert "Loaded the sample data (2 customers" in reset
    assert "2 customers" in touchflow("customers", "list", cwd=project).stdout


def test_a_daemon_on_postgresql_sends_an_event_recorded_later_and_a_second_one_runs_beside_it(
    tmp_path: Path, url: str
) -> None:
    handler = Handler()
    with serve(handler) as port:
        project = write_project(
            tmp_path, customers=customers()[:1], rules=ACK_ONLY,
            config=smtp_config(port) + f"store: {url}\n",
        )  # fmt: skip
        daemon = DaemonProcess(project).start()
        try:
            daemon.wait_for("touchflow is running as instance", timeout=120)
            assert "(planner)" in daemon.log()
            # Several daemons share a PostgreSQL store; the one running plans.
            second = touchflow("run", "--once", cwd=project, check=False)
            assert second.returncode == 0, second.stderr
            assert second.stdout.startswith("Dispatched: nothing.")
            # A command records an event while the daemon runs: it plans and sends it.
            touchflow(
                "event", "inquiry_received", "--customer", "c00", "--id", "q-late",
                "--data", '{"inquiry_id": "q-late", "subject": "Still open?"}', cwd=project,
            )  # fmt: skip
            daemon.wait_for("claimed → sent", timeout=60)
        finally:
            assert daemon.stop() == 0, daemon.log()
    assert message_ids(handler) == [message_id_for("ack:c00:q-late:0", "example.com")]
