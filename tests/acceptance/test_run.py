"""`touchflow run` as a cron job and as a daemon, on the sample and on small projects."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

from daemon_support import (
    ANA,
    DaemonProcess,
    booking,
    by_key,
    inquiry,
    maildir_messages,
    outbox,
    touchflow,
    write_project,
)

from touchflow.messages.compose import message_id_for

START = datetime.fromisoformat("2026-11-23T08:00:00+01:00")


def run_once(project: Path, at: datetime) -> str:
    return touchflow("run", "--once", "--now", at.isoformat(), cwd=project).stdout


def test_cron_steps_through_three_days_deliver_what_preview_promised_once_each(
    sample: Path,
) -> None:
    promised = json.loads(
        touchflow(
            "preview", "--format", "json", "--days", "3", "--now", START.isoformat(), cwd=sample
        ).stdout
    )
    expected = {item["key"] for item in promised if item["status"] == "planned"}
    assert len(expected) >= 5  # the sample keeps the next days busy
    # The sample's inquiry from five minutes before it was loaded is already due:
    # not in a preview that starts now, answered by the first run.
    expected.add("inquiry-acknowledgement:c-006:q-3000:0")

    steps = [START + timedelta(hours=6 * i) for i in range(13)]  # 3 days, every 6 hours
    for at in steps:
        run_once(sample, at)

    sent = by_key(outbox(sample, "sent"))
    assert set(sent) == expected
    messages = maildir_messages(sample)
    assert len(messages) == len(expected)
    assert {m["Message-ID"] for m in messages} == {
        message_id_for(key, "lumen.example") for key in expected
    }

    again = run_once(sample, steps[-1])
    assert again.startswith("Dispatched: nothing.")
    assert len(maildir_messages(sample)) == len(expected)


def test_a_touchpoint_missed_while_down_goes_out_late_or_is_marked_expired(
    tmp_path: Path,
) -> None:
    project = write_project(
        tmp_path,
        customers=[ANA],
        events=[
            booking(starts_in_days=1),
            inquiry(1, at="09:00", subject="Gift cards?"),
        ],
    )
    start = datetime.fromisoformat("2026-11-23T08:00:00+00:00")
    run_once(project, start)  # plans; nothing is due yet
    assert outbox(project, "sent") == []

    # Down for three days: the reminder (24 h before 12:00 the next day) and the
    # immediate answer (at 09:00, lives a day) expired; "late-ok" lives 7 days.
    summary = run_once(project, start + timedelta(days=3))
    rows = by_key(outbox(project))
    assert rows["late-ok:c1:q-1:2h-after"]["state"] == "sent"
    for key in ("reminder:c1:a-1:24h-before", "ack:c1:q-1:0"):
        assert rows[key]["state"] == "expired"
        assert rows[key]["reason"] == "expired"
        assert "not sent" in rows[key]["detail"]
    assert "1 sent" in summary and "2 expired" in summary
    assert len(maildir_messages(project)) == 1


def test_a_late_touchpoint_within_its_expiry_is_sent_at_the_next_run(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        customers=[ANA],
        events=[booking(starts_in_days=2)],
    )
    start = datetime.fromisoformat("2026-11-23T08:00:00+00:00")
    run_once(project, start)
    # The reminder was due at 12:00 the next day; the daemon comes back at 18:00,
    # before the appointment starts: late, but still worth sending.
    run_once(project, start + timedelta(days=1, hours=10))
    row = by_key(outbox(project))["reminder:c1:a-1:24h-before"]
    assert row["state"] == "sent"
    assert row["sent_at"] == "2026-11-24T18:00:00Z"


def test_a_cancellation_recorded_before_the_due_time_cancels_the_pending_reminder(
    tmp_path: Path,
) -> None:
    project = write_project(
        tmp_path,
        customers=[ANA],
        events=[booking(starts_in_days=2)],
    )
    start = datetime.fromisoformat("2026-11-23T08:00:00+00:00")
    run_once(project, start)
    assert by_key(outbox(project))["reminder:c1:a-1:24h-before"]["state"] == "pending"
    touchflow(
        "event", "appointment_cancelled", "--customer", "c1",
        "--at", "2026-11-23T09:00:00+00:00", "--data", '{"appointment_id": "a-1"}',
        cwd=project,
    )  # fmt: skip
    run_once(project, start + timedelta(days=1, hours=6))  # past the reminder's due time
    row = by_key(outbox(project))["reminder:c1:a-1:24h-before"]
    assert row["state"] == "cancelled"
    assert "appointment_cancelled" in row["detail"]
    assert maildir_messages(project) == []


def test_line_breaks_in_customer_data_never_make_an_extra_header_or_recipient(
    tmp_path: Path,
) -> None:
    project = write_project(
        tmp_path,
        customers=[
            {"id": "c1", "email": "ana@example.com", "first_name": "Ana\r\nBcc: evil@example.net"},
            {"id": "c2", "email": "bo@example.com", "first_name": "Bo"},
        ],
        events=[
            inquiry(1, subject="plain"),
            inquiry(2, customer="c2", subject="Hi\r\nBcc: evil@example.net"),
        ],
    )
    run_once(project, datetime.fromisoformat("2026-11-23T08:00:00+00:00"))
    messages = maildir_messages(project)
    assert len(messages) == 2
    for message in messages:
        assert message["Bcc"] is None
        assert [str(a.addr_spec) for a in message["To"].addresses] in (
            ["ana@example.com"],
            ["bo@example.com"],
        )
    # The subject template is collapsed to one line before it reaches the header.
    subjects = {str(m["Subject"]) for m in messages}
    assert "We got your question: Hi Bcc: evil@example.net" in subjects


def test_a_second_daemon_on_the_same_store_refuses_to_start(tmp_path: Path) -> None:
    project = write_project(tmp_path, customers=[ANA])
    daemon = DaemonProcess(project).start()
    try:
        daemon.wait_for("touchflow is running")
        second = touchflow("run", "--once", cwd=project, check=False)
        assert second.returncode == 1
        assert daemon.proc is not None
        assert f"another `touchflow run` (pid {daemon.proc.pid})" in second.stderr
        assert daemon.stop() == 0
        daemon.wait_for("stopped")
    finally:
        daemon.kill()
    # The lock died with it: the next run starts.
    touchflow("run", "--once", cwd=project)


def test_outbox_and_retry_commands(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        # No first name: the template would print an empty value, so it is not sent.
        customers=[{"id": "c2", "email": "bo@example.com"}],
        events=[inquiry(2, customer="c2", subject="Hi")],
    )
    now = datetime.fromisoformat("2026-11-23T08:00:00+00:00")
    run_once(project, now)
    table = touchflow("outbox", cwd=project).stdout
    assert "1 failed" in table and "render_error" in table
    assert "Next due: 2026-11-23 09:30 (UTC)" in table  # the "late-ok" answer
    result = touchflow("retry", "ack:c2:q-2:0", cwd=project)
    assert "Re-queued ack:c2:q-2:0 (was failed: render_error)" in result.stdout
    assert by_key(outbox(project))["ack:c2:q-2:0"]["state"] == "pending"
    assert "Next due: " in touchflow("outbox", cwd=project).stdout
    again = touchflow("retry", "ack:c2:q-2:0", cwd=project, check=False)
    assert again.returncode == 2 and "is pending" in again.stderr
    unknown = touchflow("retry", "nope", cwd=project, check=False)
    assert unknown.returncode == 2 and "no touchpoint 'nope'" in unknown.stderr


def test_outbox_says_so_when_nothing_is_in_the_state_asked_for(tmp_path: Path) -> None:
    project = write_project(tmp_path, customers=[ANA], events=[inquiry(1)])
    run_once(project, datetime.fromisoformat("2026-11-23T08:00:00+00:00"))  # sent, no failure
    failed = touchflow("outbox", "--state", "failed", cwd=project)
    assert failed.returncode == 0
    assert failed.stdout.splitlines()[-1] == "No touchpoints are failed."
    asked = ("--state", "failed", "--state", "retry", "--customer", "c1")
    assert touchflow("outbox", *asked, cwd=project).stdout.splitlines()[-1] == (
        "No touchpoints of customer c1 are failed or waiting to retry."
    )
    assert "No touchpoints" not in touchflow("outbox", "--state", "sent", cwd=project).stdout


def test_json_logs_carry_one_line_per_state_change(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        customers=[ANA],
        events=[inquiry(1, subject="Gift cards?")],
    )
    env = {**os.environ, "NO_COLOR": "1"}
    result = touchflow(
        "run", "--once", "--log-format", "json", "--now", "2026-11-23T08:00:00Z",
        cwd=project, env=env,
    )  # fmt: skip
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    changes = [line for line in lines if line.get("event") == "state"]
    sent = [c for c in changes if c["key"] == "ack:c1:q-1:0" and c["to"] == "sent"]
    assert sent and sent[0]["from"] == "claimed"
    assert {"key", "rule", "customer", "from", "to", "reason"} <= set(sent[0])
