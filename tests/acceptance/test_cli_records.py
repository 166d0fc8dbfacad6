"""`touchflow customers|events|suppressions`, `event`'s report and `sample --remove|--reset`,
run as a user runs them on a copy of the sample project."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from daemon_support import outbox, touchflow

from touchflow.send.lock import StoreLock

# Each test runs the CLI a dozen times, about a second each on a busy machine.
pytestmark = pytest.mark.slow

STORE = Path(".touchflow/store.sqlite3")


def tf(*args: str, cwd: Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    """The CLI with no terminal on stdin (as in a script), expecting exit ``code``."""
    result = touchflow(*args, cwd=cwd, check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def tf_json(*args: str, cwd: Path) -> Any:
    return json.loads(tf(*args, "--format", "json", cwd=cwd).stdout)


def on_terminal(*args: str, cwd: Path, answer: str) -> subprocess.CompletedProcess[str]:
    """The CLI with a terminal on stdin, typing ``answer``."""
    main, side = pty.openpty()
    try:
        os.write(main, answer.encode())
        return touchflow(*args, cwd=cwd, check=False, stdin=side)
    finally:
        os.close(side)
        os.close(main)


def ids(doc: dict[str, Any]) -> list[str]:
    return [c["id"] for c in doc["customers"]]


def test_customers_and_events_are_listed_paged_and_shown(sample: Path) -> None:
    tf("sample", cwd=sample)
    page = tf_json("customers", "list", "--limit", "3", cwd=sample)
    assert (ids(page), page["total"]) == (["c-001", "c-002", "c-003"], 8)
    assert page["next_after"] == "c-003"
    rest = tf_json("customers", "list", "--after", "c-003", cwd=sample)
    assert len(rest["customers"]) == 5 and rest["next_after"] is None
    table = tf("customers", "list", "--limit", "3", cwd=sample).stdout
    assert "Anna Schmidt" in table and "--after c-003" in table
    assert ids(tf_json("customers", "list", "--email", "ANNA.Schmidt@example.com", cwd=sample)) == [
        "c-001"
    ]
    shown = tf_json("customers", "show", "c-007", cwd=sample)
    assert shown["customer"]["email"] == "chloe.tremblay@example.ca"
    assert [s["scope"] for s in shown["suppressions"]] == ["marketing"]
    assert [e["id"] for e in shown["events"]] == ["e-006"] and shown["outbox"] == []
    events = tf_json("events", "list", "--customer", "c-001", cwd=sample)
    assert [e["type"] for e in events["events"]] == [
        "appointment_rescheduled", "appointment_booked", "coupon_issued",
    ]  # fmt: skip
    # The sample's made-up history: each event as if recorded when it happened.
    assert [e["recorded_at"] for e in events["events"]] == [e["at"] for e in events["events"]]
    assert [e["recorded_at"] for e in shown["events"]] == [e["at"] for e in shown["events"]]
    assert "apt-1002" in tf("events", "list", "--customer", "c-001", cwd=sample).stdout
    for args in (("customers", "show", "nobody"), ("events", "list", "--customer", "nobody")):
        assert "no customer 'nobody' in the store" in tf(*args, cwd=sample, code=2).stderr


def test_customers_delete_asks_refuses_under_a_daemon_and_erases(sample: Path) -> None:
    tf("sample", cwd=sample)
    asked = tf("customers", "delete", "c-007", cwd=sample, code=2)
    assert "Delete customer c-007 (chloe.tremblay@example.ca)" in asked.stderr
    assert "add --yes" in asked.stderr
    with StoreLock(sample / STORE):  # what a running `touchflow run` holds
        busy = tf("customers", "delete", "c-007", "--yes", cwd=sample, code=1)
    assert "DELETE /v1/customers/c-007" in busy.stderr
    no = on_terminal("customers", "delete", "c-007", cwd=sample, answer="n\n")
    assert (no.returncode, no.stdout.strip()) == (0, "Nothing was deleted.")
    assert tf_json("customers", "show", "c-007", cwd=sample)["customer"]["id"] == "c-007"
    erased = tf("customers", "delete", "c-007", "--yes", cwd=sample).stdout
    assert "Erased customer c-007: 1 event and" in erased and "1 suppression kept hashed" in erased
    tf("customers", "show", "c-007", cwd=sample, code=2)
    kept = tf_json("suppressions", "list", cwd=sample)["suppressions"]
    assert [s["email"][:7] for s in kept] == ["sha256:"]  # the address is gone, the "no" stays
    assert tf("customers", "delete", "c-007", "--yes", cwd=sample, code=2).stderr


def test_suppressions_are_listed_and_removed(sample: Path) -> None:
    tf("sample", cwd=sample)
    tf("suppress", "Kim@Example.com", "--category", "all", "--reason", "asked", cwd=sample)
    listed = tf_json("suppressions", "list", cwd=sample)["suppressions"]
    assert {(s["email"], s["scope"]) for s in listed} == {
        ("kim@example.com", "all"), ("chloe.tremblay@example.ca", "marketing"),
    }  # fmt: skip
    none = tf("suppressions", "remove", "kim@example.com", "--category", "marketing",
              cwd=sample, code=2)  # fmt: skip
    assert "kim@example.com has no suppression (marketing)" in none.stderr
    assert tf("suppressions", "remove", "not-an-address", cwd=sample, code=2).stderr
    said = tf("suppressions", "remove", "KIM@example.com", cwd=sample).stdout
    assert said.strip() == "Removed 1 suppression of kim@example.com."
    listed = tf_json("suppressions", "list", "--email", "kim@example.com", cwd=sample)
    assert listed["suppressions"] == []


def test_a_phone_number_is_suppressed_listed_and_lifted_in_e164(sample: Path) -> None:
    said = tf("suppress", "0151 12345678", "--category", "all", "--reason", "STOP", cwd=sample)
    assert said.stdout.strip() == "Suppressed +4915112345678 (all)."  # read in the project's DE
    listed = tf_json("suppressions", "list", "--email", "+49 151 12345678", cwd=sample)
    assert [(s["email"], s["scope"], s["reason"]) for s in listed["suppressions"]] == [
        ("+4915112345678", "all", "STOP")
    ]
    bad = tf("suppress", "12", cwd=sample, code=2).stderr
    assert 'ADDRESS: address "12" is not a valid phone number in DE' in bad
    lifted = tf("suppressions", "remove", "+4915112345678", cwd=sample).stdout
    assert lifted.strip() == "Removed 1 suppression of +4915112345678."


def _local(instant: datetime, tz: str) -> str:
    return f"{instant.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} {tz}"


def test_event_says_what_it_planned_moved_cancelled_and_warns_about_the_past(
    sample: Path,
) -> None:
    tf("sample", cwd=sample)
    soon = (datetime.now(UTC) + timedelta(hours=30)).replace(second=0, microsecond=0)
    later = soon + timedelta(days=3)
    book = {"appointment_id": "a-9", "starts_at": soon.isoformat(), "service": "Cut"}
    booked = tf("event", "appointment_booked", "--customer", "c-003", "--data", json.dumps(book),
                cwd=sample)  # fmt: skip
    key = "appointment-reminder:c-003:a-9:24h-before"
    assert f"planned    {key}  {_local(soon - timedelta(hours=24), 'Europe/London')}" in (
        booked.stdout
    )
    assert booked.stderr == ""
    # Due within the daemon's horizon: in the outbox now, as the daemon would have put it.
    assert outbox(sample, "pending") and key in {r["key"] for r in outbox(sample, "pending")}
    move = {"appointment_id": "a-9", "starts_at": later.isoformat()}
    moved = tf("event", "appointment_rescheduled", "--customer", "c-003", "--data",
               json.dumps(move), cwd=sample).stdout  # fmt: skip
    assert f"moved      {key}  {_local(later - timedelta(hours=24), 'Europe/London')}" in moved
    cancel = json.dumps({"appointment_id": "a-9"})
    rows = outbox(sample)
    with StoreLock(sample / STORE):  # a daemon runs: it, not the command, writes the outbox
        cancelled = tf("event", "appointment_cancelled", "--customer", "c-003", "--data", cancel,
                       cwd=sample).stdout  # fmt: skip
    assert f"cancelled  {key}" in cancelled and "running daemon updates the outbox" in cancelled
    assert outbox(sample) == rows
    # The README's example, once its date had passed: recorded, with a warning.
    past = {"appointment_id": "a-1", "starts_at": "2026-12-01T10:00:00+01:00", "service": "Cut"}
    readme = ("event", "appointment_booked", "--customer", "c-001", "--data", json.dumps(past),
              "--at", "2026-11-22T10:00:00+01:00")  # fmt: skip
    old = tf(*readme, cwd=sample)
    assert "warning: appointment-reminder:c-001:a-1:24h-before was due 2026-11-30 10:00" in (
        old.stderr
    )
    assert "not sent" in old.stderr
    again = tf(*readme, cwd=sample)
    assert "was already recorded" in again.stdout and again.stderr == ""
    # The same id for a different event is a mistake, as on import and over HTTP.
    (event_id,) = [w for w in old.stdout.split() if w.startswith("cli-")]
    clash = tf(*readme[:-3], json.dumps({**past, "service": "Massage"}), "--id", event_id,
               cwd=sample, code=2)  # fmt: skip
    assert f"--id: event id {event_id!r} is already recorded for a different event" in (
        clash.stderr
    )
    assert "data.service" in clash.stderr
    # An inquiry of now is answered now, as its rule says: no alarm about the past.
    asked = {"inquiry_id": "q-77", "subject": "Open on Sunday?"}
    inquiry = tf("event", "inquiry_received", "--customer", "c-006", "--data",
                 json.dumps(asked), cwd=sample)  # fmt: skip
    assert "planned    inquiry-acknowledgement:c-006:q-77" in inquiry.stdout
    assert inquiry.stderr == ""
    same = tf(*readme[:-2], cwd=sample).stdout  # without --at: another booking, same slot
    assert "It plans, moves and cancels nothing." in same


def test_sample_remove_deletes_only_the_sample_and_an_import_warns_first(
    sample: Path, tmp_path: Path
) -> None:
    tf("sample", cwd=sample)
    real = tmp_path / "real.jsonl"
    real.write_text('{"id": "r-1", "email": "real@shop.example", "first_name": "Rea"}\n')
    imported = tf("import", "customers", str(real), cwd=sample)
    assert "holds the sample data (8 customers: c-001, c-002" in imported.stderr
    assert "touchflow sample --remove" in imported.stderr
    tf("suppress", "real@shop.example", cwd=sample)
    before = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
    tf("event", "signed_up", "--customer", "r-1", "--at", "2026-01-02T03:04:05Z", cwd=sample)
    # A customer the user imports under a sample id is theirs from then on: kept.
    edited = tmp_path / "edit.jsonl"
    edited.write_text('{"id": "c-002", "email": "john@elsewhere.example"}\n')
    adopted = tf("import", "customers", str(edited), cwd=sample).stderr
    assert "the import replaced 1 customer: c-002 of the sample data" in adopted
    assert "holds the sample data (7 customers: c-001, c-003" in adopted
    removed = tf("sample", "--remove", cwd=sample).stdout
    assert "Removed the sample data: 7 customers," in removed
    assert "2 customers remain." in removed
    assert ids(tf_json("customers", "list", cwd=sample)) == ["c-002", "r-1"]
    assert [s["email"] for s in tf_json("suppressions", "list", cwd=sample)["suppressions"]] == [
        "real@shop.example"
    ]
    [signed_up] = tf_json("events", "list", "--customer", "r-1", cwd=sample)["events"]
    # Recorded at the command's clock, not at the time it happened.
    assert signed_up["at"] == "2026-01-02T03:04:05Z" and signed_up["recorded_at"] >= before
    assert "sample" not in tf("import", "customers", str(real), cwd=sample).stderr
    assert "no sample data" in tf("sample", "--remove", cwd=sample).stdout


def test_sample_remove_knows_a_store_loaded_before_the_sample_ids_were_kept(sample: Path) -> None:
    tf("sample", "--now", "2026-11-22", cwd=sample)
    with sqlite3.connect(sample / STORE) as db:
        db.execute("DELETE FROM meta WHERE key LIKE 'sample_c%' OR key LIKE 'sample_s%'")
    assert "8 customers" in tf("sample", "--remove", cwd=sample).stdout
    assert tf_json("customers", "list", cwd=sample)["total"] == 0


def test_sample_reset_asks_first(sample: Path) -> None:
    tf("sample", cwd=sample)
    tf("suppress", "kim@example.com", cwd=sample)
    refused = tf("sample", "--reset", cwd=sample, code=2)
    assert "Delete the store" in refused.stderr and "8 customers" in refused.stderr
    assert "add --yes" in refused.stderr
    no = on_terminal("sample", "--reset", cwd=sample, answer="n\n")
    assert no.stdout.strip() == "Nothing was deleted." and "[y/N]" in no.stderr
    assert len(tf_json("suppressions", "list", cwd=sample)["suppressions"]) == 2
    yes = on_terminal("sample", "--reset", cwd=sample, answer="y\n")
    assert "Loaded the sample data" in yes.stdout
    assert len(tf_json("suppressions", "list", cwd=sample)["suppressions"]) == 1
    assert "Loaded the sample data" in tf("sample", "--reset", "--yes", cwd=sample).stdout
