"""SIGKILL the daemon at random moments while it sends: nothing is lost, nothing stays claimed.

A duplicate can only come from a kill between the server's "250" and the
outbox commit, and then it carries the same Message-ID (derived from the key).
Each connection hands the server a message's content only once its last outcome
is committed, so one kill duplicates at most one message per connection. It runs
against a server that offers PIPELINING and one that does not: with it, the next
message's MAIL, RCPT and DATA leave with the previous message's end.
"""

from __future__ import annotations

import os
import random
import time
from collections import defaultdict
from pathlib import Path

import pytest
from daemon_support import (
    ACK_ONLY,
    DaemonProcess,
    inquiry,
    outbox,
    poll,
    smtp_config,
    write_project,
)
from smtp_support import Handler, serve

from touchflow.messages.compose import message_id_for

N = 2000
KILLS = 5
CONNECTIONS = 4
NOW = "2026-11-23T08:00:00Z"


@pytest.mark.usefixtures("smtp_pipelining")  # both ways
def test_sigkill_during_sending_loses_nothing_and_duplicates_keep_their_message_id(
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("TOUCHFLOW_CRASH_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    handler = Handler()
    with serve(handler) as port:
        project = write_project(
            tmp_path,
            customers=[
                {"id": f"c{i}", "email": f"u{i}@example.com", "first_name": "Kim"} for i in range(N)
            ],
            events=[inquiry(i, customer=f"c{i}", subject=f"q-{i}") for i in range(N)],
            rules=ACK_ONLY,
            config=smtp_config(port, extra=f"    connections: {CONNECTIONS}\n"),
        )
        kills_while_sending = 0
        for _ in range(KILLS):
            daemon = DaemonProcess(project, "--now", NOW).start()
            if rng.random() < 0.8:  # mostly mid-send; sometimes while it starts up
                daemon.wait_for("touchflow is running", timeout=120)
            before = len(handler.received)
            time.sleep(rng.uniform(0.05, 1.0))
            daemon.kill()
            kills_while_sending += len(handler.received) > before
        final = DaemonProcess(project, "--now", NOW).start()
        # Past its start-up, so that SIGTERM below meets its handler (the kills above
        # may have left nothing to send, and then the wait below ends at once).
        final.wait_for("touchflow is running", timeout=120)
        poll(lambda: len({subject_of(m) for m in handler.received}) >= N, timeout=240, every=0.2)
        assert final.stop() == 0, final.log()

    copies: defaultdict[str, list[str]] = defaultdict(list)
    for _, _, content in handler.received:
        copies[subject_of((None, None, content))].append(message_id_of(content))
    assert len(copies) == N, f"seed {seed}: {N - len(copies)} touchpoints never arrived"
    for subject, ids in copies.items():
        key = f"ack:c{subject.removeprefix('q-')}:{subject}:0"
        assert set(ids) == {message_id_for(key, "example.com")}, f"seed {seed}: {subject}"
    duplicates = sum(len(ids) - 1 for ids in copies.values())
    assert duplicates <= KILLS * CONNECTIONS, f"seed {seed}: {duplicates} duplicates"
    rows = outbox(project)
    assert [r["key"] for r in rows if r["state"] != "sent"] == []
    assert len(rows) == N
    print(
        f"\ncrash test (seed {seed}): {N} touchpoints, {KILLS} SIGKILLs "
        f"({kills_while_sending} mid-send), {duplicates} received twice (same Message-ID)"
    )
    assert kills_while_sending >= 1, f"seed {seed}: no kill landed while sending"


def subject_of(item: tuple[object, object, bytes]) -> str:
    for line in item[2].split(b"\r\n"):
        if line.startswith(b"Subject: "):
            return line.removeprefix(b"Subject: We got your question: ").decode()
    raise AssertionError("no Subject")


def message_id_of(content: bytes) -> str:
    for line in content.split(b"\r\n"):
        if line.lower().startswith(b"message-id: "):
            return line.split(b": ", 1)[1].decode()
    raise AssertionError("no Message-ID")
