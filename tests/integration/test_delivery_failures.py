"""What the daemon does with every kind of server answer: final state, attempts, suppression.

In-process: the real Daemon and SqliteStore, the real SMTP channel, and a real
aiosmtpd server (tests/smtp_support.py) answering as each case needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from daemon_support import (
    ACK_ONLY,
    ANA,
    inquiry,
    project_channel,
    sample_store,
    smtp_config,
    write_project,
)
from smtp_support import Handler, serve

from touchflow.clock import Clock
from touchflow.models import Customer, OutboxRow, OutboxState, SuppressionScope
from touchflow.project import load_project_checked
from touchflow.send.daemon import Daemon
from touchflow.store.sqlite import SqliteStore

NOW = datetime.fromisoformat("2026-11-23T08:00:00+00:00")
KEY = "ack:c1:q-1:0"
_FAST = "    timeout: 0.5\n    connections: 2\n"  # a stalling server times out quickly
pytestmark = pytest.mark.usefixtures("smtp_pipelining")  # each test, both ways


@dataclass
class Setup:
    """A project delivering to ``handler``'s server; ``run(at)`` is one daemon pass at ``at``."""

    store: SqliteStore
    handler: Handler
    run: Any  # async (at: datetime) -> Summary

    async def row(self, key: str = KEY) -> OutboxRow:
        return (await self.store.outbox_by_keys([key]))[key]


@asynccontextmanager
async def daemon_against(
    tmp_path: Path,
    handler: Handler,
    *,
    events: list[dict[str, Any]] | None = None,
    tls: str = "none",
) -> AsyncIterator[Setup]:
    with serve(handler) as port:
        root = write_project(
            tmp_path,
            customers=[ANA],
            events=[inquiry(1)] if events is None else events,
            rules=ACK_ONLY,
            config=smtp_config(port, tls=tls, extra=_FAST),
        )
        project = load_project_checked(root)
        async with project_channel(project) as channel, sample_store(project, NOW) as store:

            async def run(at: datetime) -> Any:
                daemon = Daemon(
                    project=project, store=store, channel=channel, clock=Clock.starting_at(at)
                )
                return await daemon.run_once()

            yield Setup(store=store, handler=handler, run=run)


@pytest.mark.parametrize(
    ("answers", "code"),
    [
        pytest.param({"rcpt": ("421 4.3.2 Service shutting down",)}, "421", id="421-at-rcpt"),
        pytest.param({"mail": ("421 4.7.0 Try again later",)}, "421", id="421-at-mail"),
        pytest.param({"rcpt": ("451 4.3.0 Mailbox busy",)}, "451", id="451"),
        pytest.param({"data": ("452 4.3.1 Insufficient storage",)}, "452", id="452"),
        pytest.param({"drop_after_data": True}, "", id="dropped-after-data"),
        pytest.param({"stall": "DATA"}, "", id="stalled-past-timeout"),
    ],
)
async def test_a_temporary_failure_is_retried_later(
    tmp_path: Path, answers: dict[str, Any], code: str
) -> None:
    async with daemon_against(tmp_path, Handler(**answers)) as setup:
        summary = await setup.run(NOW)
        row = await setup.row()
    assert row.state is OutboxState.RETRY
    assert row.attempts == 1
    assert row.reason == "temporary_failure"
    assert code in (row.last_error or "")
    assert NOW + timedelta(seconds=29) <= row.next_attempt_at <= NOW + timedelta(minutes=2)
    assert summary.tally.states[OutboxState.RETRY] == 1
    assert setup.handler.received == []


async def test_a_retry_that_then_succeeds_is_sent_with_two_attempts(tmp_path: Path) -> None:
    handler = Handler(rcpt=("451 4.3.0 Mailbox busy", "250 2.1.5 Ok"))
    async with daemon_against(tmp_path, handler) as setup:
        await setup.run(NOW)
        early = await setup.run(NOW + timedelta(seconds=10))  # backoff not over yet
        await setup.run(NOW + timedelta(minutes=5))
        row = await setup.row()
    assert not early.tally.states
    assert row.state is OutboxState.SENT
    assert row.attempts == 2
    assert len(handler.received) == 1


async def test_temporary_failures_until_expiry_end_expired_with_the_last_error(
    tmp_path: Path,
) -> None:
    async with daemon_against(tmp_path, Handler(rcpt=("451 4.3.0 Mailbox busy",))) as setup:
        at = NOW
        for _ in range(300):  # the ack lives a day; backoff tops out at 10 minutes
            await setup.run(at)
            row = await setup.row()
            if row.state is not OutboxState.RETRY:
                break
            at = row.next_attempt_at
    assert row.state is OutboxState.EXPIRED
    assert row.attempts > 3
    assert "451" in (row.last_error or "")
    assert f"after {row.attempts} attempt(s)" in (row.last_error or "")


async def test_a_bad_mailbox_fails_and_suppresses_the_address(tmp_path: Path) -> None:
    handler = Handler(rcpt=("550 5.1.1 No such user",))
    events = [inquiry(1), inquiry(2, hours=2)]
    async with daemon_against(tmp_path, handler, events=events) as setup:
        await setup.run(NOW)
        first = await setup.row()
        facts = await setup.store.load_facts(customer_ids=["c1"])
        # Two hours later the second answer is due: it is not even tried.
        await setup.run(NOW + timedelta(hours=2))
        second = await setup.row("ack:c1:q-2:0")
    assert first.state is OutboxState.FAILED
    assert first.reason == "bad_mailbox"
    assert first.attempts == 1
    assert "5.1.1" in (first.last_error or "")
    assert SuppressionScope.ALL in facts[0].suppressed
    assert second.state is OutboxState.SUPPRESSED
    assert second.attempts == 0
    assert handler.rcpt_count == 1


async def test_a_policy_rejection_fails_without_suppressing(tmp_path: Path) -> None:
    async with daemon_against(tmp_path, Handler(data=("554 5.7.1 Rejected as spam",))) as setup:
        await setup.run(NOW)
        row = await setup.row()
        facts = await setup.store.load_facts(customer_ids=["c1"])
    assert row.state is OutboxState.FAILED
    assert row.reason == "rejected"
    assert "5.7.1" in (row.last_error or "")
    assert facts[0].suppressed == frozenset()


async def test_required_starttls_not_offered_sends_nothing_and_says_why(tmp_path: Path) -> None:
    handler = Handler()
    async with daemon_against(tmp_path, handler, tls="starttls") as setup:
        await setup.run(NOW)
        row = await setup.row()
    assert row.state is OutboxState.RETRY
    assert "STARTTLS" in (row.last_error or "")
    assert handler.received == []
    assert handler.rcpt_count == 0


async def test_a_line_break_in_an_address_fails_the_touchpoint_before_any_smtp(
    tmp_path: Path,
) -> None:
    handler = Handler()
    async with daemon_against(tmp_path, handler) as setup:
        # Written past the importer (which would refuse it), as a buggy sync might.
        evil = Customer(
            id="c1", email="ana@example.com\r\nRCPT TO:<evil@example.net>", first_name="Ana"
        )
        await setup.store.upsert_customers([evil])
        await setup.run(NOW)
        row = await setup.row()
    assert row.state is OutboxState.FAILED
    assert row.reason == "invalid_message"
    assert handler.rcpt_count == 0
