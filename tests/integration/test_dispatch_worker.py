"""The dispatcher's worker process: the same verdicts and bytes as preparing in the daemon.

Real worker processes, a real SQLite store, a real aiosmtpd server for the
end-to-end cases; a channel that only counts where the pipeline's own
behaviour is the point (stopping).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import dkim  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from daemon_support import (
    ACK_ONLY,
    CONFIG,
    inquiry,
    project_channel,
    sample_store,
    smtp_config,
    write_project,
)
from fakes import RecordingChannel
from smtp_support import Handler, serve

import touchflow
from touchflow.channels import Delivery, Envelope
from touchflow.clock import Clock
from touchflow.errors import StoreError
from touchflow.messages.compose import message_id_for
from touchflow.messages.dkim import DkimSigner
from touchflow.models import OutboxRow, OutboxState
from touchflow.project import Project, load_project_checked, load_with_links
from touchflow.send.batch import Prepared, prepare
from touchflow.send.daemon import Daemon
from touchflow.send.dispatch import Dispatcher, Tally, _Drain
from touchflow.send.dispatch_worker import Preparer, StaleProject, Worker
from touchflow.store.sqlite import SqliteStore

NOW = datetime.fromisoformat("2026-11-23T08:00:00+00:00")
HTML = "<p>Hello {{ customer.first_name }}: <em>{{ event.data.subject }}</em></p>\n"


@asynccontextmanager
async def planned(
    tmp_path: Path, n: int, *, config: str | None = None, rules: str = ACK_ONLY
) -> AsyncIterator[tuple[Project, SqliteStore]]:
    """A project with ``n`` customers whose inquiry acknowledgement is due, planned."""
    customers: list[dict[str, Any]] = [
        {"id": f"c{i}", "email": f"u{i}@example.com", "first_name": "Jürgen"} for i in range(n)
    ]
    customers.append({"id": "nameless", "email": "who@example.com"})  # "Hello None": held
    events = [inquiry(i, customer=f"c{i}", subject=f"q-{i}") for i in range(n)]
    events.append(inquiry(n, customer="nameless"))
    root = write_project(
        tmp_path, customers=customers, events=events, rules=rules, **_config(config)
    )
    (root / "message_templates" / "ack" / "body.html").write_text(HTML, encoding="utf-8")
    project = load_project_checked(root)
    async with sample_store(project, NOW) as store:
        async with project_channel(project) as channel:
            clock = Clock.starting_at(NOW)
            await Daemon(project=project, store=store, channel=channel, clock=clock).start_up()
        yield project, store


def _config(config: str | None) -> dict[str, str]:
    return {} if config is None else {"config": config}


async def claim_all(store: SqliteStore) -> list[OutboxRow]:
    return await store.claim_due(owner="test", now=NOW, ttl=timedelta(minutes=5), limit=10_000)


async def wait_until(done: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def prepared_both_ways(
    project: Project, store: SqliteStore, *, worker_signer: DkimSigner | None = None
) -> tuple[list[Prepared], list[Prepared]]:
    """Every due row prepared here, in the daemon, and there, in a worker process
    (signing with ``worker_signer``, if given)."""
    rows = await claim_all(store)
    here = await prepare(project, store, rows, now=NOW, signer=None)
    worker = await Worker.start(project, store=store.path, signer=worker_signer)
    try:
        there = await worker.prepare(project, rows, NOW)
    finally:
        await worker.aclose()
    return here, there


async def test_the_worker_gives_the_daemons_verdicts_and_byte_identical_messages(
    tmp_path: Path,
) -> None:
    async with planned(tmp_path, 40) as (project, store):
        here, there = await prepared_both_ways(project, store)
    assert there == here  # rows, envelopes, every byte of every message
    envelopes = [p.envelope for p in there if p.envelope is not None]
    assert len(envelopes) == 40
    message = message_from_bytes(envelopes[0].data, policy=policy.default)
    assert message.get_body(("html",)) is not None  # type: ignore[attr-defined]
    assert envelopes[0].message_id == message_id_for(envelopes[0].key, "example.com")


async def test_a_claimed_row_whose_customer_cannot_be_planned_is_held_both_ways(
    tmp_path: Path,
) -> None:
    async with planned(tmp_path, 3) as (project, store):
        # Planted past validation after the row was planned: c1's zone cannot be loaded.
        with sqlite3.connect(store.path) as db:
            db.execute("UPDATE customers SET timezone = 'Mars/Olympus' WHERE id = 'c1'")
        here, there = await prepared_both_ways(project, store)
    assert there == here
    held = [p.row for p in here if p.row.customer_id == "c1"]
    assert [(r.state, r.reason) for r in held] == [(OutboxState.CANCELLED, "invalid_data")]
    assert held[0].last_error is not None
    assert held[0].last_error.startswith("customer c1 could not be planned: ZoneInfoNotFound")
    assert len([p for p in here if p.envelope is not None]) == 2  # c0 and c2 still go


async def test_the_worker_signs_with_the_daemons_dkim_key(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    signer = DkimSigner("s1", "example.com", pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    records = {b"s1._domainkey.example.com.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)}
    async with planned(tmp_path, 3) as (project, store):
        unsigned, signed = await prepared_both_ways(project, store, worker_signer=signer)
    pairs = [(a.envelope, b.envelope) for a, b in zip(unsigned, signed, strict=True)]
    assert len([p for p in pairs if p[0] is not None]) == 3
    for plain, sealed in pairs:
        if plain is None:
            continue
        assert sealed is not None
        assert sealed.data.startswith(b"DKIM-Signature:")
        assert sealed.data.endswith(plain.data)
        assert dkim.verify(sealed.data, dnsfunc=lambda name, timeout=5: records.get(name))


async def test_a_render_error_in_the_worker_fails_the_row_as_in_the_daemon(
    tmp_path: Path,
) -> None:
    async with planned(tmp_path, 2) as (project, store):
        rows = await claim_all(store)
        worker = await Worker.start(project, store=store.path, signer=None)
        try:
            there = await worker.prepare(project, rows, NOW)
        finally:
            await worker.aclose()
        here = await prepare(project, store, rows, now=NOW, signer=None)
    (failed,) = [p.row for p in there if p.envelope is None]
    assert [p.row for p in here if p.envelope is None] == [failed]
    assert (failed.customer_id, failed.state, failed.reason) == (
        "nameless",
        OutboxState.FAILED,
        "render_error",
    )
    assert "message_templates/ack/body.txt" in (failed.last_error or "")
    assert "empty" in (failed.last_error or "")


async def test_the_worker_follows_a_reload_but_never_runs_files_the_daemon_has_not_loaded(
    tmp_path: Path,
) -> None:
    async with planned(tmp_path, 2) as (project, store):
        rows = await claim_all(store)
        worker = await Worker.start(project, store=store.path, signer=None)
        subject = project.config.root / "message_templates" / "ack" / "subject.txt"
        subject.write_text("Re: {{ event.data.subject }}", encoding="utf-8")
        try:
            # The daemon still runs the old files: so does the worker.
            old = await worker.prepare(project, rows, NOW)
            # The daemon reloads: the worker loads the same files.
            reloaded = load_project_checked(project.config.root)
            new = await worker.prepare(reloaded, rows, NOW)
        finally:
            await worker.aclose()
        with pytest.raises(StaleProject):  # files the daemon has not loaded (yet)
            await Worker.start(project, store=store.path, signer=None)
    assert all(b"Subject: Re: q-" not in p.envelope.data for p in old if p.envelope)
    assert all(b"Subject: Re: q-" in p.envelope.data for p in new if p.envelope)


async def test_the_daemon_prepares_batches_itself_when_the_worker_dies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with planned(tmp_path, 3) as (project, store):
        rows = await claim_all(store)
        preparer = Preparer(store, signer=None, use=True)
        preparer.want(project)
        await wait_until(lambda: preparer.ready)
        assert preparer.worker is not None
        os.kill(preparer.worker.pid, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="touchflow"):
            done = await preparer.prepare(project, rows, NOW)
        assert not preparer.ready
        preparer.want(project)  # no second start right after a failure
        assert not preparer.ready
        await preparer.aclose()
        assert done == await prepare(project, store, rows, now=NOW, signer=None)
    assert "the worker process failed; preparing in the daemon" in caplog.text


async def test_the_worker_is_not_started_when_turned_off(tmp_path: Path) -> None:
    config = CONFIG.replace("daemon:\n", "daemon:\n  worker_process: false\n")
    async with planned(tmp_path, 1, config=config) as (project, store):
        preparer = Preparer(store, signer=None, use=None)
        preparer.want(project)
        await asyncio.sleep(0.1)
        assert not preparer.ready
        await preparer.aclose()


def test_the_worker_exits_when_the_daemon_is_killed(tmp_path: Path) -> None:
    root = write_project(tmp_path, customers=[], rules=ACK_ONLY)
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from touchflow.send.dispatch_worker import Worker
        from touchflow.project import load_project_checked
        from touchflow.store.sqlite import SqliteStore

        async def main():
            project = load_project_checked(Path({str(root)!r}))
            store = await SqliteStore.open(project.config.store_file())
            worker = await Worker.start(project, store=store.path, signer=None)
            print(worker.pid, flush=True)
            await asyncio.sleep(120)

        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(touchflow.__file__).resolve().parent.parent)}
    daemon = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=root, env=env
    )
    try:
        assert daemon.stdout is not None
        pid = int(daemon.stdout.readline())
        assert _running(pid)
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=10)
        deadline = time.monotonic() + 20
        while _running(pid):
            assert time.monotonic() < deadline, "the worker outlived the daemon"
            time.sleep(0.05)
    finally:
        daemon.kill()
        daemon.wait()
        if daemon.stdout is not None:
            daemon.stdout.close()


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status  # a zombie has exited: only its parent is gone


async def test_a_backlog_goes_out_through_the_worker_and_every_outcome_is_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 120
    handler = Handler()
    batches: list[int] = []
    through_worker = Worker.prepare

    async def counted(worker: Worker, project: Project, rows: Any, now: datetime) -> Any:
        batches.append(len(rows))
        return await through_worker(worker, project, rows, now)

    monkeypatch.setattr(Worker, "prepare", counted)
    with serve(handler) as port:
        config = smtp_config(port, extra="    connections: 4\n")
        async with planned(tmp_path, n, config=config) as (project, store):
            async with project_channel(project) as channel:
                dispatcher = Dispatcher(
                    store=store,
                    channel=channel,
                    project=lambda: project,
                    clock=Clock.starting_at(NOW).now,
                    batch=8,
                    worker=True,
                )
                dispatcher.preparer.want(project)
                await wait_until(lambda: dispatcher.preparer.ready)
                with caplog.at_level(logging.INFO, logger="touchflow"):
                    tally = await dispatcher.drain()
            rows = await store.list_outbox()
    assert sum(batches) == n + 1 and max(batches) == 8  # every row went through the worker
    assert tally.states == {OutboxState.SENT: n, OutboxState.FAILED: 1}
    sent = [r for r in rows if r.state is OutboxState.SENT]
    assert len(sent) == n
    assert all(r.message_id == message_id_for(r.key, "example.com") for r in sent)
    assert all(r.claim_owner is None and r.attempts == 1 for r in sent)
    assert len(handler.received) == n
    lines = [r.getMessage() for r in caplog.records]
    assert sum(line.endswith("claimed → sent") for line in lines) == n
    assert sum(line.endswith("claimed → failed") for line in lines) == 1


class _Stopper(RecordingChannel):
    """A channel that accepts every message and asks the dispatcher to stop after a few."""

    def __init__(self, after: int) -> None:
        super().__init__(name="stopper", concurrency=2)
        self.after = after
        self.dispatcher: Dispatcher | None = None

    async def send(
        self,
        envelope: Envelope,
        *,
        after: Awaitable[object] | None = None,
        then: Envelope | None = None,
    ) -> Delivery:
        if after is not None:
            await after
        await asyncio.sleep(0)
        delivery = self.accept(envelope, then)
        if len(self.sent) == self.after and self.dispatcher is not None:
            self.dispatcher.stopping = True
        return delivery


async def test_stopping_sends_nothing_new_and_puts_claimed_rows_back_to_pending(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    channel = _Stopper(after=5)
    async with planned(tmp_path, 60) as (project, store):
        dispatcher = Dispatcher(
            store=store,
            channel=channel,
            project=lambda: project,
            clock=Clock.starting_at(NOW).now,
            worker=False,
        )
        channel.dispatcher = dispatcher
        with caplog.at_level(logging.INFO, logger="touchflow"):
            tally = await dispatcher.drain()
        counts = await store.outbox_counts()
    sent = len(channel.sent)
    assert 5 <= sent <= 5 + channel.concurrency - 1  # only sends already under way end
    assert tally.states[OutboxState.SENT] == sent
    assert counts.get(OutboxState.CLAIMED, 0) == 0
    assert counts[OutboxState.SENT] == sent
    failed = counts.get(OutboxState.FAILED, 0)  # the nameless customer's, if it was prepared
    assert counts[OutboxState.PENDING] == 61 - sent - failed
    released = tally.states[OutboxState.PENDING]
    assert released >= 1
    lines = [r.getMessage() for r in caplog.records]
    assert sum(line.endswith("claimed → pending") for line in lines) == released


async def test_a_stopping_dispatcher_lets_go_of_each_message_it_named_next_and_did_not_send(
    tmp_path: Path,
) -> None:
    # An SMTP connection primed for a message that is not sent after all would stay open,
    # mid-transaction, beyond the configured number of connections.
    channel = _Stopper(after=5)
    async with planned(tmp_path, 60) as (project, store):
        dispatcher = Dispatcher(
            store=store,
            channel=channel,
            project=lambda: project,
            clock=Clock.starting_at(NOW).now,
            worker=False,
        )
        channel.dispatcher = dispatcher
        await dispatcher.drain()
    sent = {e.key for e in channel.sent}
    named_not_sent = {e.key for e in channel.named if e is not None} - sent
    assert named_not_sent  # the stop came while senders held their next message
    assert named_not_sent <= {e.key for e in channel.unprimed}
    assert not sent & {e.key for e in channel.unprimed}


async def test_the_worker_signs_the_same_unsubscribe_links_as_the_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Marketing mail with http.public_url set: the worker loads the project as the daemon
    # does, with the one-click links signed by the secret from the (inherited) environment.
    monkeypatch.setenv("TOUCHFLOW_UNSUBSCRIBE_SECRET", "s3cret-for-this-test")
    config = CONFIG + "http:\n  public_url: https://shop.example.com\n"
    rules = ACK_ONLY.replace("category: transactional", "category: marketing")
    async with planned(tmp_path, 3, config=config, rules=rules) as (plain, store):
        project = load_with_links(plain.config.root, os.environ)
        here, there = await prepared_both_ways(project, store)
    assert there == here
    envelopes = [p.envelope for p in there if p.envelope is not None]
    assert len(envelopes) == 3
    message = message_from_bytes(envelopes[0].data, policy=policy.default)
    assert "https://shop.example.com/v1/unsubscribe/" in str(message["List-Unsubscribe"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


class _Witness(RecordingChannel):
    """A channel that, as it completes each message, counts the messages it completed
    before whose outcome is not committed yet: what a SIGKILL at that moment would
    send twice."""

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(name="witness", concurrency=2)
        self.store = store
        self.most_unrecorded = 0
        self.gated = 0  # sends that had to wait for an earlier outcome

    async def send(
        self,
        envelope: Envelope,
        *,
        after: Awaitable[object] | None = None,
        then: Envelope | None = None,
    ) -> Delivery:
        await asyncio.sleep(0.001)  # MAIL, RCPT and DATA
        if after is not None:
            self.gated += 1
            await after
        rows = await self.store.outbox_by_keys([e.key for e in self.sent])
        unrecorded = sum(row.state is OutboxState.CLAIMED for row in rows.values())
        self.most_unrecorded = max(self.most_unrecorded, unrecorded)
        return self.accept(envelope)  # the final "." and the server's 250


async def test_a_message_is_completed_only_once_its_connections_last_outcome_is_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with planned(tmp_path, 40) as (project, store):
        finish = store.finish_claims

        async def slow_finish(*args: Any, **kwargs: Any) -> list[bool]:
            await asyncio.sleep(0.02)  # a commit that takes its time, as on a busy disk
            return await finish(*args, **kwargs)

        monkeypatch.setattr(store, "finish_claims", slow_finish)
        channel = _Witness(store)
        dispatcher = Dispatcher(
            store=store,
            channel=channel,
            project=lambda: project,
            clock=Clock.starting_at(NOW).now,
            worker=False,
        )
        tally = await dispatcher.drain()
    assert tally.states[OutboxState.SENT] == len(channel.sent) == 40
    assert channel.gated >= 30  # every sender's messages after its first
    # Each connection may have one message out and not yet recorded, never more.
    assert channel.most_unrecorded <= channel.concurrency - 1


@pytest.mark.parametrize(("customers", "early"), [(40, True), (3, False)])
async def test_run_once_starts_the_worker_while_it_plans_when_a_batch_of_customers_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, customers: int, early: bool
) -> None:
    # 40 changed customers are more than a batch (8 rounds of 4 maildir writes): the
    # worker is asked for before planning starts, so it is up when the sends begin.
    events = [inquiry(i, customer=f"c{i}") for i in range(customers)]
    people = [
        {"id": f"c{i}", "email": f"u{i}@example.com", "first_name": "Kim"} for i in range(customers)
    ]
    project = load_project_checked(
        write_project(tmp_path, customers=people, events=events, rules=ACK_ONLY)
    )
    asked: list[bool] = []  # for each call of want(): had planning begun?
    planning: list[bool] = []
    want, plan_changes = Preparer.want, Daemon.plan_changes

    def spy_want(preparer: Preparer, project: Project) -> None:
        asked.append(bool(planning))
        want(preparer, project)

    async def spy_plan(daemon: Daemon) -> int:
        planning.append(True)
        return await plan_changes(daemon)

    monkeypatch.setattr(Preparer, "want", spy_want)
    monkeypatch.setattr(Daemon, "plan_changes", spy_plan)
    async with sample_store(project, NOW) as store, project_channel(project) as channel:
        daemon = Daemon(project=project, store=store, channel=channel, clock=Clock.starting_at(NOW))
        summary = await daemon.run_once()
    assert summary.tally.states[OutboxState.SENT] == customers
    assert (asked[:1] == [False]) is early  # asked before planning began


@pytest.mark.parametrize(
    ("sends", "seconds", "rows"),
    [
        pytest.param(0, 0.0, 128, id="no-rate-yet"),
        pytest.param(100, 10.0, 32, id="10-per-s-a-rate-limit"),
        pytest.param(3000, 10.0, 300, id="300-per-s"),
        pytest.param(50_000, 10.0, 512, id="5000-per-s-capped"),
    ],
)
async def test_a_worker_batch_holds_about_a_second_of_sending_at_the_rate_seen(
    tmp_path: Path, sends: int, seconds: float, rows: int
) -> None:
    # Rows are checked against a fresh plan when their batch is prepared: behind a slow
    # server, a big batch would be checked long before its last message goes out.
    async with planned(tmp_path, 1) as (project, store):
        channel = RecordingChannel(name="four connections", concurrency=4)  # batches of 32
        dispatcher = Dispatcher(
            store=store,
            channel=channel,
            project=lambda: project,
            clock=Clock.starting_at(NOW).now,
        )
        drain = _Drain(dispatcher, Tally())
        drain.sends, drain.started = sends, time.monotonic() - seconds
        assert drain._limit(worker=True) == pytest.approx(rows, abs=2)
        assert drain._limit(worker=False) == 32
    assert channel.sent == []  # only its number of connections was asked


async def test_each_send_names_the_message_its_connection_sends_next(tmp_path: Path) -> None:
    # What lets the SMTP channel pipeline the next MAIL, RCPT and DATA behind a message.
    channel = RecordingChannel(name="lookahead", concurrency=1)  # one connection
    async with planned(tmp_path, 20) as (project, store):
        dispatcher = Dispatcher(
            store=store,
            channel=channel,
            project=lambda: project,
            clock=Clock.starting_at(NOW).now,
            worker=False,
        )
        tally = await dispatcher.drain()
    keys = [e.key for e in channel.sent]
    assert tally.states[OutboxState.SENT] == len(keys) == 20
    named = [None if then is None else then.key for then in channel.named]
    for then, next_sent in zip(named, [*keys[1:], None], strict=True):
        assert then in (None, next_sent)  # never a message sent by another connection
    assert named.count(None) <= 3  # the last one, and where a batch ran dry


class TakenBackAtFirstSend(RecordingChannel):
    """At its first send, another daemon takes back every claim of this one (it judged
    this one gone: its lock's connection was cut, or its leases ended), and the send
    goes on; what it sends after that counts as sent twice."""

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(name="taken", concurrency=2)
        self.store = store
        self.fired = False
        self.taken: list[str] = []
        self.sent_anyway: list[str] = []

    async def send(
        self,
        envelope: Envelope,
        *,
        after: Awaitable[object] | None = None,
        then: Envelope | None = None,
    ) -> Delivery:
        if after is not None:
            await after
        if not self.fired:
            self.fired = True  # before the wait: the other connection sends meanwhile
            rows = await self.store.reclaim(now=NOW, owners_gone=True, me="another daemon")
            self.taken = [r.key for r in rows]
        elif self.store_owner(envelope.key) != "A":
            self.sent_anyway.append(envelope.key)
        return self.accept(envelope, then)

    def store_owner(self, key: str) -> str | None:
        with sqlite3.connect(self.store.path) as db:
            row = db.execute("SELECT claim_owner FROM outbox WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]


async def test_a_daemon_whose_claims_were_taken_back_stops_sending_the_rest(
    tmp_path: Path,
) -> None:
    async with planned(tmp_path, 60) as (project, store):
        channel = TakenBackAtFirstSend(store)
        dispatcher = Dispatcher(
            store=store, channel=channel, project=lambda: project,
            clock=Clock.starting_at(NOW).now, worker=False, owner="A",
        )  # fmt: skip
        await dispatcher.drain()
        retry = [r.key for r in await store.list_outbox() if r.state is OutboxState.RETRY]
    assert len(channel.taken) > 2 * channel.concurrency  # most of a batch went back
    # Each connection's message in flight at most, not the rest of what it had claimed.
    assert len(channel.sent_anyway) <= channel.concurrency, channel.sent_anyway
    assert len(retry) >= len(channel.taken) - channel.concurrency  # the other sends them
    assert dispatcher.held == set()


async def test_a_taken_back_batch_is_one_warning_not_one_a_row(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with planned(tmp_path, 60) as (project, store):
        channel = TakenBackAtFirstSend(store)
        dispatcher = Dispatcher(
            store=store, channel=channel, project=lambda: project,
            clock=Clock.starting_at(NOW).now, worker=False, owner="A",
        )  # fmt: skip
        with caplog.at_level(logging.WARNING, logger="touchflow"):
            await dispatcher.drain()
    lines = [r.getMessage() for r in caplog.records]
    lost = [line for line in lines if "was taken back before the outcome" in line]
    rest = [line for line in lines if "were not sent and are no longer this daemon's" in line]
    # A line for each outcome lost (a message went out), one for all the rest.
    assert 1 <= len(lost) <= channel.concurrency, lost
    assert len(rest) == 1, lines


async def test_a_batch_whose_preparation_fails_goes_back_and_is_not_renewed(
    tmp_path: Path,
) -> None:
    async with planned(tmp_path, 10) as (project, store):
        dispatcher = Dispatcher(
            store=store, channel=RecordingChannel(concurrency=1), project=lambda: project,
            clock=Clock.starting_at(NOW).now, worker=False, owner="A",
        )  # fmt: skip

        async def store_away(*args: object, **kwargs: object) -> list[Prepared]:
            raise StoreError("the store went away for a moment")

        dispatcher.preparer.prepare = store_away  # type: ignore[method-assign]
        with pytest.raises(StoreError):
            await dispatcher.drain()
        states = {r.state for r in await store.list_outbox() if r.rule_id == "ack"}
    assert dispatcher.held == set()  # the daemon renews none of them
    assert OutboxState.CLAIMED not in states  # back to pending, for the next drain
