"""The running daemon picks up rule changes, refuses broken ones, and reacts to new events."""

from __future__ import annotations

import signal
from pathlib import Path

from daemon_support import ANA, CONFIG, RULES, DaemonProcess, touchflow, write_project

NOW = "2026-11-23T08:00:00Z"
FAST_CONFIG = CONFIG.replace("daemon:\n", "daemon:\n  watch_every: 1 second\n")
COPY_RULE = """
- id: ack-copy
  category: transactional
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  send: immediately
  action: {template: ack}
"""


def record_inquiry(project: Path, inquiry: str) -> None:
    touchflow(
        "event", "inquiry_received", "--customer", "c1", "--at", NOW,
        "--data", f'{{"inquiry_id": "{inquiry}", "subject": "Hello"}}',
        cwd=project,
    )  # fmt: skip


def test_rule_changes_apply_without_restart_and_broken_ones_keep_the_old_rules(
    tmp_path: Path,
) -> None:
    project = write_project(
        tmp_path,
        customers=[ANA],
        config=FAST_CONFIG,
    )
    rules_file = project / "rules" / "rules.yaml"
    daemon = DaemonProcess(project, "--now", NOW).start()
    try:
        daemon.wait_for("touchflow is running")

        # A valid change: a new rule is swapped in and used for the next event.
        rules_file.write_text(RULES + COPY_RULE, encoding="utf-8")
        daemon.wait_for("reloaded 4 rules")
        record_inquiry(project, "q-1")
        daemon.wait_for("ack-copy:c1:q-1:0 claimed → sent")
        daemon.wait_for("ack:c1:q-1:0 claimed → sent")

        # A broken change: logged with file:line, the four rules keep running.
        broken = RULES + COPY_RULE + "\n- id: broken\n  category: transactional\n  sned: 1 day\n"
        rules_file.write_text(broken, encoding="utf-8")
        line = broken.splitlines().index("  sned: 1 day") + 1
        refused = daemon.wait_for("reload refused")
        assert f"rules/rules.yaml:{line}: unknown key 'sned'" in refused
        assert "did you mean" in refused
        record_inquiry(project, "q-2")
        daemon.wait_for("ack-copy:c1:q-2:0 claimed → sent")

        # SIGHUP reloads although no file changed: a second refusal is logged.
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for("reload refused", occurrences=2)
        assert daemon.stop() == 0
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.kill()
    assert "stopped" in daemon.log()
