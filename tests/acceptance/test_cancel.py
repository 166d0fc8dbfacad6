"""`touchflow cancel` as a user runs it, next to a daemon run as a cron job: a touchpoint
cancelled by hand is not sent however often the daemon re-plans, until `touchflow retry`.

`touchflow retry` re-queues at the wall clock's now (it takes no --now), so the runs here
are placed around today: the daemon's --now lies ahead of the re-queue, as in real use.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon_support import (
    ANA,
    booking,
    by_key,
    inquiry,
    maildir_messages,
    outbox,
    touchflow,
    write_project,
)

REMINDER = "reminder:c1:a-1:24h-before"  # due 12:00 UTC the day after the first run
ANSWER = "ack:c1:q-1:0"  # sent by the first run


def run_once(project: Path, at: datetime) -> str:
    return touchflow("run", "--once", "--now", at.isoformat(), cwd=project).stdout


def first_day_at_8() -> datetime:
    """08:00 UTC today: the first run's day, whose events the fixtures place at 07:00
    (the booking) and 07:30 (the inquiry), whatever the hour the test runs at."""
    return datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)


def reminders(project: Path) -> list[str]:
    subjects = [str(m["Subject"]) for m in maildir_messages(project)]
    return [s for s in subjects if s.startswith("Reminder")]


def test_a_touchpoint_cancelled_by_hand_is_not_sent_until_retried(tmp_path: Path) -> None:
    project = write_project(
        tmp_path, customers=[ANA], events=[booking(starts_in_days=2), inquiry(1)]
    )
    start = first_day_at_8()
    run_once(project, start)
    assert by_key(outbox(project))[REMINDER]["state"] == "pending"

    done = touchflow("cancel", REMINDER, cwd=project)
    assert done.stdout == (
        f"Cancelled {REMINDER} (was pending); it is not sent. Undo: touchflow retry {REMINDER}\n"
    )
    past_due = start + timedelta(days=1, hours=5)  # the reminder's time has come
    run_once(project, past_due)  # a full plan of Ana, who still has her appointment
    row = by_key(outbox(project))[REMINDER]
    assert (row["state"], row["reason"]) == ("cancelled", "cancelled_by_hand")
    assert row["detail"].startswith("cancelled by hand with `touchflow cancel` at ")
    assert reminders(project) == []
    why = touchflow("why", "c1", "--now", past_due.isoformat(), cwd=project).stdout
    assert "outbox: cancelled by hand" in why

    retried = touchflow("retry", REMINDER, cwd=project)
    assert f"Re-queued {REMINDER} (was cancelled: cancelled_by_hand)" in retried.stdout
    due = start + timedelta(days=1, hours=4)  # 12:00 UTC, the project's zone
    assert f"it is sent at its due time, {due:%Y-%m-%d} 12:00 (UTC)." in retried.stdout
    run_once(project, past_due)
    assert by_key(outbox(project))[REMINDER]["state"] == "sent"
    assert reminders(project) == ["Reminder: your appointment a-1"]


def test_cancel_refuses_what_cannot_be_cancelled_and_does_the_rest(tmp_path: Path) -> None:
    project = write_project(
        tmp_path, customers=[ANA], events=[booking(starts_in_days=2), inquiry(1)]
    )
    run_once(project, first_day_at_8())  # after the inquiry at 07:30: its answer is sent
    mixed = touchflow("cancel", ANSWER, "nope", REMINDER, cwd=project, check=False)
    assert mixed.returncode == 2
    assert mixed.stdout.startswith(f"Cancelled {REMINDER} (was pending)")
    assert mixed.stderr.splitlines() == [
        f"error: {ANSWER} is sent: it was already sent; nothing is left to cancel",
        "error: no touchpoint 'nope' in the outbox",
    ]
    again = touchflow("cancel", REMINDER, cwd=project)
    assert again.stdout.startswith(f"{REMINDER} was already cancelled by hand (cancelled by hand")
    helped = touchflow("cancel", "--help", cwd=project).stdout
    assert "touchflow retry KEY" in helped and "Exit codes" in helped
    missing = touchflow(
        "cancel", "k", "--project", str(tmp_path / "nowhere"), cwd=tmp_path, check=False
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
