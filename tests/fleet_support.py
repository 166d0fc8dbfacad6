"""Several `touchflow run` on one PostgreSQL store, and an SMTP server that says who sent what.

Each daemon of a ``Fleet`` runs in a project directory of its own (the same rules and
templates, as on separate machines) whose only difference is the EHLO name it greets
the server with (``d0.test``, ``d1.test``…), so the ``CountingHandler`` knows which
daemon delivered each message without asking touchflow. The store is shared:
``TOUCHFLOW_STORE_URL`` in every daemon's environment.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from daemon_support import ACK_ONLY, CONFIG, DaemonProcess, poll, write_project
from smtp_support import Handler

from touchflow.messages.compose import message_id_for
from touchflow.models import Customer, Event, OutboxState
from touchflow.store import open_store

SUBJECT = re.compile(rb"^Subject: We got your question: (q-\d+)\r?$", re.MULTILINE)
MESSAGE_ID = re.compile(rb"^Message-ID: (.*?)\r?$", re.MULTILINE | re.IGNORECASE)
DOMAIN = "example.com"  # of the project's From address: the Message-IDs' domain


class CountingHandler(Handler):
    """A ``Handler`` that also notes, for each message it accepted, which inquiry it
    answers, its Message-ID and the EHLO name of the connection it came on: which
    daemon sent it. Read as it arrives, so that waiting for the last one is cheap."""

    def __init__(self) -> None:
        super().__init__()
        self.deliveries: list[Delivery] = []  # in the order they arrived
        self.senders: list[str] = []  # the same order: each delivery's sender
        self.answered: set[str] = set()  # the inquiries (q-<n>) answered so far

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        before = len(self.received)
        reply = await super().handle_DATA(server, session, envelope)
        if len(self.received) > before:
            content = envelope.content
            delivery = Delivery(
                inquiry=inquiry_of(content),
                message_id=message_id_of(content),
                sender=str(session.host_name),
                arrived=time.monotonic(),
            )
            self.deliveries.append(delivery)
            self.senders.append(delivery.sender)
            self.answered.add(delivery.inquiry)
        return reply


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    inquiry: str  # q-<n>
    message_id: str
    sender: str  # the EHLO name of the daemon that sent it
    arrived: float  # time.monotonic() at the server

    @property
    def key(self) -> str:
        """The touchpoint's key: the ``ack`` rule's answer to inquiry q-<n> of customer c<n>."""
        return ack_key(int(self.inquiry.removeprefix("q-")))


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    """The deliveries of a run, by touchpoint."""

    copies: dict[str, list[Delivery]]  # key → each delivery of it, in arrival order

    @classmethod
    def of(cls, deliveries: Sequence[Delivery]) -> Tally:
        copies: defaultdict[str, list[Delivery]] = defaultdict(list)
        for delivery in deliveries:
            copies[delivery.key].append(delivery)
        return cls(copies=dict(copies))

    def missing(self, keys: Sequence[str]) -> list[str]:
        return [key for key in keys if key not in self.copies]

    def duplicates(self) -> int:
        """Deliveries beyond the first of each touchpoint."""
        return sum(len(each) - 1 for each in self.copies.values())

    def duplicated_by(self) -> Counter[str]:
        """For each daemon, how many touchpoints it delivered first that came again later:
        only a daemon killed before it recorded them may have any."""
        return Counter(each[0].sender for each in self.copies.values() if len(each) > 1)

    def foreign_ids(self) -> list[Delivery]:
        """Deliveries whose Message-ID is not the one their key gives: none may be."""
        return [
            d
            for each in self.copies.values()
            for d in each
            if d.message_id != message_id_for(d.key, DOMAIN)
        ]

    def split(self) -> Counter[str]:
        """How many messages each daemon sent."""
        return Counter(d.sender for each in self.copies.values() for d in each)


def ack_key(n: int) -> str:
    return f"ack:c{n}:q-{n}:0"


def inquiry_of(content: bytes) -> str:
    match = SUBJECT.search(content)
    assert match is not None, content[:300]
    return match.group(1).decode()


def message_id_of(content: bytes) -> str:
    match = MESSAGE_ID.search(content)
    assert match is not None, content[:300]
    return match.group(1).decode()


# --- the store --------------------------------------------------------------------


def fill(url: str, n: int, now: datetime) -> list[str]:
    """Customers c0…c<n-1>, each with an inquiry received half an hour before ``now``
    (its answer due at once), written straight into the store: the keys due.

    Faster than a sample of that size (its Jinja dates cost ~1 ms a line) and written
    before any daemon starts, so that every daemon finds the same store."""
    customers = [
        Customer(id=f"c{i}", email=f"u{i}@example.com", first_name="Kim") for i in range(n)
    ]
    events = [
        Event(
            id=f"q{i}",
            type="inquiry_received",
            customer_id=f"c{i}",
            at=now - timedelta(minutes=30),
            data={"inquiry_id": f"q-{i}", "subject": f"q-{i}"},
        )
        for i in range(n)
    ]

    async def write() -> None:
        async with await open_store(url) as store:
            await store.upsert_customers(customers, now=now - timedelta(hours=1))
            await store.add_events(events)

    asyncio.run(write())
    return [ack_key(i) for i in range(n)]


def outbox_counts(url: str) -> dict[str, int]:
    """Rows by state, read through the store's boundary (no state left out: zeros too)."""

    async def read() -> dict[OutboxState, int]:
        async with await open_store(url) as store:
            return await store.outbox_counts()

    counts = asyncio.run(read())
    return {state.value: counts.get(state, 0) for state in OutboxState}


# --- the daemons ------------------------------------------------------------------


def fleet_config(
    port: int,
    helo: str,
    *,
    connections: int,
    daemon: str = "",
    smtp: str = "",
    base: str = CONFIG,
) -> str:
    """``base`` delivering to 127.0.0.1:``port`` as ``helo``; ``daemon``: more
    ``daemon:`` keys (two-space indented lines), ``smtp``: more smtp keys."""
    assert "\ndaemon:\n" in base
    return base.replace("\ndaemon:\n", "\ndaemon:\n" + daemon) + (
        f"delivery:\n  smtp:\n    host: 127.0.0.1\n    port: {port}\n    tls: none\n"
        f"    connections: {connections}\n    helo: {helo}\n{smtp}"
    )


@dataclass
class Fleet:
    """``size`` daemons on the store at ``url``, each in a project of its own under ``root``."""

    root: Path
    url: str
    port: int
    size: int
    args: Sequence[str]
    connections: int = 2
    daemon: str = ""  # more `daemon:` keys for every project
    smtp: str = ""  # more `smtp:` keys
    base: str = CONFIG
    rules: str = ACK_ONLY
    customers: Sequence[dict[str, Any]] = ()  # each project's sample
    events: Sequence[dict[str, Any]] = ()
    env: dict[str, str] = field(default_factory=dict)
    daemons: list[DaemonProcess] = field(default_factory=list)  # each one's current life
    past: list[list[DaemonProcess]] = field(default_factory=list)  # each one's lives killed
    kills: Counter[str] = field(default_factory=Counter)  # by EHLO name

    def __post_init__(self) -> None:
        for i in range(self.size):
            config = fleet_config(
                self.port,
                self.helo(i),
                connections=self.connections,
                daemon=self.daemon,
                smtp=self.smtp,
                base=self.base,
            )
            write_project(
                self.root / f"d{i}",
                customers=list(self.customers),
                events=self.events,
                rules=self.rules,
                config=config,
            )
            self.daemons.append(self._process(i))
            self.past.append([])

    def _process(self, i: int) -> DaemonProcess:
        env = {**self.env, "TOUCHFLOW_STORE_URL": self.url}
        return DaemonProcess(self.root / f"d{i}", *self.args, env=env)

    @staticmethod
    def helo(i: int) -> str:
        return f"d{i}.test"

    def start(self) -> Fleet:
        for daemon in self.daemons:
            daemon.start()
        return self

    def kill(self, i: int) -> None:
        """SIGKILL daemon ``i`` (no goodbye) and start it again at once.

        Not ``DaemonProcess.kill``, which waits for the end of its log: the daemon's
        worker process writes there too, and outlives it until it notices the daemon
        gone (up to a batch's preparation). The life killed keeps its own log."""
        killed = self.daemons[i]
        assert killed.proc is not None
        killed.proc.kill()
        killed.proc.wait(timeout=60)
        self.kills[self.helo(i)] += 1
        self.past[i].append(killed)
        self.daemons[i] = self._process(i).start()

    def stop(self, timeout: float = 60) -> list[int]:
        """SIGTERM every daemon once it would heed it, then wait: their exit codes.

        One SIGTERM each: a second one after the daemon's loop has closed (and its
        handler with it) would end the rest of its shutdown at once."""
        for daemon in self.daemons:
            assert daemon.proc is not None
            assert poll(lambda d=daemon: heeds_sigterm(d), timeout=timeout), daemon.log()
            daemon.proc.terminate()
        for daemon in self.daemons:
            assert daemon.proc is not None
            daemon.proc.wait(timeout=timeout)
        return [daemon.stop(timeout) for daemon in self.daemons]  # exited: no signal

    def close(self) -> None:
        """What a failing test leaves: no daemon outlives it."""
        for daemon in self.daemons:
            if daemon.proc is not None and daemon.proc.poll() is None:
                daemon.kill()

    def logs(self) -> str:
        """Every daemon's log, each life of it (a SIGKILL ends one) under a heading."""
        return "\n".join(
            f"--- {self.helo(i)}, life {n + 1} ---\n{life.log()}"
            for i, daemon in enumerate(self.daemons)
            for n, life in enumerate([*self.past[i], daemon])
        )


def heeds_sigterm(daemon: DaemonProcess) -> bool:
    """Whether the daemon has its SIGTERM handler (a graceful stop) or has exited: before
    it does, SIGTERM ends it at once (exit -15). Read from /proc, as the kernel sees it;
    the daemon logs its start at INFO only, and these tests run quieter."""
    assert daemon.proc is not None
    if daemon.proc.poll() is not None:
        return True
    try:
        status = Path(f"/proc/{daemon.proc.pid}/status").read_text(encoding="ascii")
    except FileNotFoundError:  # gone between the two looks
        return True
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


@contextmanager
def running(fleet: Fleet) -> Iterator[Fleet]:
    try:
        yield fleet.start()
    finally:
        fleet.close()
