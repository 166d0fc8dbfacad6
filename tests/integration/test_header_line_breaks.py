"""Line breaks in data bound for a header: the subject folds them into spaces and is
sent; any other control character in the subject fails the touchpoint as
``invalid_message``, as a line break in an address does (test_delivery_failures.py).

In-process: the real Daemon and SqliteStore, delivering to the project's Maildir.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from daemon_support import (
    ACK_ONLY,
    ANA,
    inquiry,
    maildir_messages,
    project_channel,
    sample_store,
    write_project,
)

from touchflow.clock import Clock
from touchflow.models import OutboxRow, OutboxState
from touchflow.project import load_project_checked
from touchflow.send.daemon import Daemon

NOW = datetime.fromisoformat("2026-11-23T08:00:00+00:00")
KEY = "ack:c1:q-1:0"
# Everything Python's str.split() splits on, as the docs list it (rules.md §8.1).
FOLDED = "\r\n \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029\u00a0\u3000"


async def run_once(tmp_path: Path, subject: str) -> tuple[OutboxRow, list[EmailMessage]]:
    root = write_project(
        tmp_path, customers=[ANA], events=[inquiry(1, subject=subject)], rules=ACK_ONLY
    )
    project = load_project_checked(root)
    async with project_channel(project) as channel, sample_store(project, NOW) as store:
        daemon = Daemon(project=project, store=store, channel=channel, clock=Clock.starting_at(NOW))
        await daemon.run_once()
        row = (await store.outbox_by_keys([KEY]))[KEY]
    return row, maildir_messages(root)


async def test_line_breaks_and_spaces_in_the_subject_fold_into_one_space_and_it_is_sent(
    tmp_path: Path,
) -> None:
    row, [sent] = await run_once(tmp_path, f"Opening{FOLDED}hours?\r\nBcc: evil@example.net")
    assert row.state is OutboxState.SENT
    assert sent["Subject"] == "We got your question: Opening hours? Bcc: evil@example.net"
    assert sent["Bcc"] is None


# No NUL: it is refused where data comes in, at its line (no store keeps one; see
# test_a_nul_character_is_a_problem_on_its_line_as_no_store_keeps_one).
@pytest.mark.parametrize("control", ["\x01", "\x1b", "\x7f", "\x9b"], ids=ascii)
async def test_another_control_character_in_the_subject_fails_as_invalid_message(
    tmp_path: Path, control: str
) -> None:
    row, sent = await run_once(tmp_path, f"Opening{control}hours?")
    assert (row.state, row.reason) == (OutboxState.FAILED, "invalid_message")
    assert f"Subject: the value holds a line break or control character (U+{ord(control):04X})" in (
        row.last_error or ""
    )
    assert sent == []
