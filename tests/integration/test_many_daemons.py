"""Several `touchflow run` on one PostgreSQL store (issue 16 §3): each touchpoint once.

Real processes on the test PostgreSQL server (a schema of their own), a real SMTP
server in this process counting what arrives and from which daemon (each greets it
with its own EHLO name: ``fleet_support``). With PostgreSQL any number of daemons
may share a store: they claim with leases, take back the claims of a daemon that
died, and wake each other when one writes.

A duplicate can only come from a daemon killed between the server's "250" and its
commit, at most one per connection of the daemon killed, and carries the same
Message-ID (derived from the key) as the first copy.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from daemon_support import ANA, poll
from fleet_support import CountingHandler, Fleet, Tally, fill, outbox_counts, running
from http_support import AUTH, ENV, HTTP_CONFIG
from pg_support import fresh_store_url
from smtp_support import serve

DAEMONS = 3
# On the wall clock, not `--now`: each daemon's clock would start at --now when it
# starts, and a daemon restarted later would run behind the others (leases are judged
# by each daemon's clock). Quiet: at INFO, each send costs a log line to write and read.
QUIET = ("--log-level", "warning")


@pytest.fixture
def store_url() -> Iterator[str]:
    with fresh_store_url() as url:
        yield url


def test_three_daemons_send_ten_thousand_touchpoints_once_each(
    tmp_path: Path, store_url: str
) -> None:
    n = 10_000
    keys = fill(store_url, n, datetime.now(UTC))
    handler = CountingHandler()
    with serve(handler) as port:
        fleet = Fleet(root=tmp_path, url=store_url, port=port, size=DAEMONS, args=QUIET)
        with running(fleet):
            delivered = poll(lambda: len(handler.answered) >= n, timeout=180, every=0.2)
            assert delivered, f"{n - len(handler.answered)} not delivered\n{fleet.logs()}"
            assert poll(lambda: outbox_counts(store_url)["sent"] == n, timeout=30, every=0.5)
            assert fleet.stop() == [0] * DAEMONS, fleet.logs()

    tally = Tally.of(handler.deliveries)
    assert tally.missing(keys) == []
    assert tally.duplicates() == 0, fleet.logs()
    assert tally.foreign_ids() == []
    assert _left(store_url) == {"sent": n}
    split = tally.split()
    print(f"\nthree daemons, {n} touchpoints: sent by each {dict(sorted(split.items()))}")
    assert set(split) == {Fleet.helo(i) for i in range(DAEMONS)}, "a daemon sent nothing"


def test_sigkill_of_random_daemons_loses_nothing_and_duplicates_keep_their_message_id(
    tmp_path: Path, store_url: str
) -> None:
    seed = int(os.environ.get("TOUCHFLOW_CRASH_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    n, kills, connections = 2_000, 10, 2
    keys = fill(store_url, n, datetime.now(UTC))
    handler = CountingHandler()
    with serve(handler) as port:
        fleet = Fleet(
            root=tmp_path, url=store_url, port=port, size=DAEMONS, args=QUIET,
            connections=connections,
            # At most 40 a second each, so that the sending outlasts the kills on a fast
            # machine. A killed daemon's claims come back at once (its session is gone),
            # or at worst after the claim timeout: short, but longer than a live daemon's
            # event loop may stall on a loaded machine before it renews its leases (at
            # half the timeout); with 5 s, two daemons stalled together took back each
            # other's claims while sending them.
            smtp="    rate: 40\n", daemon="  claim_timeout: 30 seconds\n",
        )  # fmt: skip
        mid_send = 0  # kills while touchpoints were still to be delivered
        with running(fleet):
            born = [0] * DAEMONS  # where each daemon's life starts in handler.senders
            for _ in range(kills):
                time.sleep(rng.uniform(0.8, 2.0))
                # A daemon that has sent since it (re)started: one killed while starting
                # up proves less. While one starts, the others go on sending.
                started = poll(lambda: bool(_sent_since(handler, born)), timeout=120)
                assert started, f"seed {seed}: no daemon sends\n{fleet.logs()}"
                victim = rng.choice(_sent_since(handler, born))
                mid_send += len(handler.answered) < n
                fleet.kill(victim)
                born[victim] = len(handler.senders)
            print(f"\nkills done at {len(handler.answered)} of {n} delivered")
            delivered = poll(lambda: len(handler.answered) >= n, timeout=120, every=0.2)
            assert delivered, f"seed {seed}: {n - len(handler.answered)} lost\n{fleet.logs()}"
            assert poll(lambda: outbox_counts(store_url)["sent"] == n, timeout=30, every=0.5)
            assert fleet.stop() == [0] * DAEMONS, fleet.logs()

    tally = Tally.of(handler.deliveries)
    assert tally.missing(keys) == [], f"seed {seed}"
    assert tally.foreign_ids() == [], f"seed {seed}"
    duplicates = tally.duplicates()
    for daemon, again in tally.duplicated_by().items():  # one per connection per kill
        bound = fleet.kills[daemon] * connections
        assert again <= bound, f"seed {seed}: {daemon} ({bound}): {again}\n{fleet.logs()}"
    assert _left(store_url) == {"sent": n}, f"seed {seed}"
    print(
        f"crash test, {DAEMONS} daemons (seed {seed}): {n} touchpoints, {kills} SIGKILLs "
        f"({mid_send} mid-send) {dict(sorted(fleet.kills.items()))}, "
        f"{duplicates} received twice (same Message-ID); "
        f"sent by each {dict(sorted(tally.split().items()))}"
    )
    assert mid_send == kills, f"seed {seed}: {kills - mid_send} kills came after the sending"


def test_an_event_posted_to_either_daemon_is_sent_once_by_whichever_claims_it(
    tmp_path: Path, store_url: str
) -> None:
    handler = CountingHandler()
    posted = 12
    with serve(handler) as port:
        # Both start on an empty store at once, as two terminals would: the sample (Ana,
        # with an inquiry answered at start) is loaded once. HTTP_CONFIG's `port: 0`:
        # each serves on a port of its own.
        sample = {**inquiry(100, "c1"), "at": "{{ at(time=None, minutes=-30) }}"}
        fleet = Fleet(
            root=tmp_path, url=store_url, port=port, size=2, args=(),
            base=HTTP_CONFIG, customers=[ANA], events=[sample], env=ENV,
        )  # fmt: skip
        with running(fleet):
            urls = [daemon.http_url() for daemon in fleet.daemons]
            assert poll(lambda: "q-100" in handler.answered, timeout=60), fleet.logs()
            with httpx.Client(timeout=10) as client:
                health = [client.get(url + "/healthz").json() for url in urls]
                assert len({h["instance"] for h in health}) == 2, health
                assert sorted(h["role"] for h in health) == ["planner", "sender"], health
                for url, h in zip(urls, health, strict=True):
                    shown = client.get(url + "/metrics").text
                    assert f'touchflow_instance_info{{instance="{h["instance"]}"' in shown
                posted_at = []
                for i in range(posted):
                    posted_at.append(time.monotonic())
                    answer = client.post(
                        urls[i % len(urls)] + "/v1/events", json=inquiry(i, "c1"), headers=AUTH
                    )
                    assert answer.status_code == 201, answer.text
                wanted = {*(f"q-{i}" for i in range(posted)), "q-100"}
                assert poll(lambda: wanted <= handler.answered, timeout=60), fleet.logs()
            assert poll(lambda: outbox_counts(store_url)["sent"] == posted + 1, timeout=30)
            assert fleet.stop() == [0, 0], fleet.logs()

    deliveries = handler.deliveries
    copies = {q: [d.sender for d in deliveries if d.inquiry == q] for q in wanted}
    assert {q: len(senders) for q, senders in copies.items()} == dict.fromkeys(wanted, 1)
    assert _left(store_url) == {"sent": posted + 1}
    arrived = {d.inquiry: d.arrived for d in deliveries}
    waits = [arrived[f"q-{i}"] - posted_at[i] for i in range(posted)]
    print(
        f"\nposted to d0, d1 in turn; sent by {[copies[f'q-{i}'][0] for i in range(posted)]}, "
        f"{min(waits):.2f} to {max(waits):.2f} s after the post"
    )


def _sent_since(handler: CountingHandler, born: list[int]) -> list[int]:
    """The daemons that have sent a message since they (re)started."""
    return [i for i, start in enumerate(born) if Fleet.helo(i) in handler.senders[start:]]


def inquiry(n: int, customer: str) -> dict[str, Any]:
    """Inquiry q-<n> of ``customer``, received now: its answer is due at once."""
    data = {"inquiry_id": f"q-{n}", "subject": f"q-{n}"}
    at = datetime.now(UTC).isoformat()
    return {"id": f"w{n}", "type": "inquiry_received", "customer": customer, "at": at, "data": data}


def _left(url: str) -> dict[str, int]:
    """The outbox's rows by state, leaving out the states no row is in."""
    return {state: count for state, count in outbox_counts(url).items() if count}
