"""`touchflow store copy` as a user runs it: a project's store from its SQLite file into
PostgreSQL and back, row for row; a copy that fails or is killed half-way leaves the
destination as it was; a destination with data, a running daemon, a password on the
command line are refused; and a daemon on the copy sends nothing the original sent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from daemon_support import (
    ACK_ONLY,
    inquiry,
    smtp_config,
    touchflow,
    write_project,
)
from pg_support import fresh_store_url
from smtp_support import Handler, serve
from store_support import NOW, TTL, delivered, minutes, outbox_row

from touchflow.channels import Outcome
from touchflow.models import Customer, Event, Suppression, SuppressionScope
from touchflow.send.lock import DAEMON, StoreLock
from touchflow.store import Store, open_store
from touchflow.store.copy import DATA_TABLES

# The columns of each table, JSON ones read as values: PostgreSQL keeps a JSON object's
# keys in an order of its own, so the text differs where the object does not.
TABLES = {
    "customers": ("SELECT * FROM customers ORDER BY id", (11,)),
    "events": ("SELECT * FROM events ORDER BY id", (4,)),
    "suppressions": ("SELECT * FROM suppressions ORDER BY email, scope", ()),
    "outbox": ("SELECT * FROM outbox ORDER BY key", ()),
    "changes": ("SELECT DISTINCT customer_id FROM changes ORDER BY customer_id", ()),
    # changes_done is each store's own (a seq of its changes), as schema_version would be.
    "meta": ("SELECT * FROM meta WHERE key <> 'changes_done' ORDER BY key", ()),
}


@pytest.fixture
def url2() -> Iterator[str]:
    with fresh_store_url() as fresh:
        yield fresh


def sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a SQLite store, as the file holds it."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with sqlite3.connect(path) as db:
        for table, (sql, json_columns) in TABLES.items():
            found[table] = [
                tuple(json.loads(v) if i in json_columns else v for i, v in enumerate(row))
                for row in db.execute(sql)
            ]
    return found


def counts(location: str | Path) -> dict[str, int]:
    async def read() -> dict[str, int]:
        async with await open_store(location) as store, store.read_history() as history:
            return await history.counts()

    return asyncio.run(read())


async def fill(store: Store, *, customers: int = 6, rows: int = 8) -> None:
    """A store with a history: sent, failed, retrying, claimed, requeued and pending rows,
    an erased customer, an event of no customer, suppressions, meta, changes to plan."""
    people = [
        Customer(id=f"c{n:05d}", email=f"P{n}@Example.com", first_name="Kim",
                 attributes={"tier": "gold", "visits": n, "a": [1, {"b": None}]},
                 consent_marketing=n % 2 == 0)
        for n in range(customers)
    ]  # fmt: skip
    await store.upsert_customers(people, now=minutes(-600))
    await store.add_events(
        [Event(id=f"e{n}", type="order", customer_id=f"c{n % customers:05d}",
               at=minutes(-n), data={"total": n + 0.5, "note": "ü"}) for n in range(10)],
        now=minutes(-300),
    )  # fmt: skip
    # Recorded when, not known (as an event stored before schema version 4).
    await store.add_events(
        [Event(id="e-orphan", type="order", customer_id="nobody", at=minutes(-1))]
    )
    await store.add_suppression(
        Suppression(email="p1@example.com", scope=SuppressionScope.MARKETING, reason="asked")
    )
    plan = [
        outbox_row(f"k{n:06d}", customer_id=f"c{n % customers:05d}", due=minutes(-30 + n))
        for n in range(rows)
    ]
    await store.write_plan(plan, [], now=minutes(-60))
    claimed = await store.claim_due(owner="old:1", now=NOW, ttl=TTL, limit=5)
    sent, failed, temporary = claimed[0], claimed[1], claimed[2]
    for row, outcome in ((sent, Outcome.SENT), (failed, Outcome.FAILED),
                         (temporary, Outcome.RETRY)):  # fmt: skip
        done = delivered(row, outcome, at=minutes(1), detail="550 no" * (outcome != Outcome.SENT))
        assert await store.finish_claim(done, owner="old:1", now=minutes(1), attempted=True)
    await store.requeue(failed.key, now=minutes(2), keep_for=timedelta(days=1))
    await store.erase_customer("c00003")
    await store.set_meta("daemon_planned_until", minutes(60 * 24 * 7).isoformat())
    await store.set_meta("sample_loaded_at", NOW.isoformat())
    await store.drop_changes((await store.pending_changes(limit=10_000))[0])
    await store.upsert_customers([Customer(id="c00001", email="new@example.com")])


def filled(path: Path, **sizes: int) -> Path:
    async def make() -> None:
        async with await open_store(path) as store:
            await fill(store, **sizes)

    asyncio.run(make())
    return path


# --- a round trip ---------------------------------------------------------------------


def test_sqlite_to_postgresql_and_back_gives_the_original_row_for_row(
    tmp_path: Path, url: str
) -> None:
    original = filled(tmp_path / "original.sqlite3")
    there = touchflow("store", "copy", str(original), url, cwd=tmp_path)
    back = touchflow("store", "copy", url, "back.sqlite3", cwd=tmp_path)
    assert sqlite_rows(tmp_path / "back.sqlite3") == sqlite_rows(original)
    # Every state made it, with what a daemon needs: claims, attempts, Message-IDs.
    with psycopg.connect(url) as db:
        states = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        claim = db.execute("SELECT claim_owner FROM outbox WHERE state = 'claimed'").fetchall()
        sent = db.execute("SELECT message_id, sent_at FROM outbox WHERE state = 'sent'").fetchone()
        recorded = db.execute(
            "SELECT id, recorded_at FROM events WHERE id IN ('e1', 'e-orphan') ORDER BY id"
        ).fetchall()
    assert recorded == [("e-orphan", None), ("e1", minutes(-300))]  # when each was recorded
    assert states == {"pending": 4, "claimed": 2, "sent": 1, "retry": 1}
    assert claim == [("old:1",), ("old:1",)]
    assert sent is not None and sent[0] and sent[1] is not None
    for result in (there, back):
        assert "  customers                5             5" in result.stdout, result.stdout
        assert "  events                   9             9" in result.stdout
        assert "  outbox                   8             8" in result.stdout
        assert "  to re-plan               1             1" in result.stdout
        assert "Meta copied: daemon_planned_until, sample_loaded_at." in result.stdout
        assert "customers: 5 of 5 copied" in result.stderr


def test_postgresql_to_postgresql_and_sqlite_to_sqlite(tmp_path: Path, url: str, url2: str) -> None:
    original = filled(tmp_path / "original.sqlite3")
    touchflow("store", "copy", str(original), url, cwd=tmp_path)
    touchflow("store", "copy", url, url2, cwd=tmp_path)
    touchflow("store", "copy", url2, "a.sqlite3", cwd=tmp_path)
    touchflow("store", "copy", "a.sqlite3", "sqlite:///b.sqlite3", cwd=tmp_path)
    assert sqlite_rows(tmp_path / "b.sqlite3") == sqlite_rows(original)


# --- all or nothing -------------------------------------------------------------------


def test_a_copy_that_fails_half_way_leaves_the_destination_as_it_was(
    tmp_path: Path, url: str
) -> None:
    before = filled(tmp_path / "before.sqlite3", customers=3, rows=4)
    touchflow("store", "copy", str(before), url, cwd=tmp_path)
    # PostgreSQL's text holds no NUL: this source's last outbox row cannot be written,
    # after its customers, events and suppressions were.
    source = filled(tmp_path / "source.sqlite3")
    with sqlite3.connect(source) as db:
        db.execute("UPDATE outbox SET last_error = 'a' || char(0) || 'b' WHERE key = 'k000007'")
    failed = touchflow("store", "copy", "--replace", str(source), url, cwd=tmp_path, check=False)
    assert failed.returncode == 1, failed.stderr
    assert "error: cannot copy into store postgresql://" in failed.stderr
    assert "outbox 'k000007' holds a NUL character" in failed.stderr  # which row, in words
    assert "suppressions: 1 of 1 copied" in failed.stderr  # it did get that far
    assert counts(url) == counts(before)
    touchflow("store", "copy", url, "after.sqlite3", cwd=tmp_path)
    assert sqlite_rows(tmp_path / "after.sqlite3") == sqlite_rows(before)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_copy_killed_half_way_leaves_the_destination_as_it_was(
    tmp_path: Path, url: str, kind: str
) -> None:
    destination = url if kind == "postgresql" else str(tmp_path / "destination.sqlite3")
    source = filled(tmp_path / "source.sqlite3", customers=20_000, rows=30_000)
    copying = subprocess.Popen(
        [sys.executable, "-m", "touchflow", "store", "copy", str(source), destination],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert copying.stderr is not None
    first = copying.stderr.readline()  # a tenth of the customers is written
    copying.send_signal(signal.SIGKILL)
    copying.wait(timeout=30)
    copying.stderr.close()
    assert first.startswith("customers: 5000 of 19999 copied"), first  # one erased
    assert copying.returncode == -signal.SIGKILL
    assert set(counts(destination).values()) == {0}
    # and the next copy goes through
    touchflow("store", "copy", str(source), destination, cwd=tmp_path)
    assert counts(destination) == counts(source)


# --- refusals -------------------------------------------------------------------------


def test_a_destination_holding_data_is_refused_unless_replace(tmp_path: Path, url: str) -> None:
    first = filled(tmp_path / "first.sqlite3", customers=3, rows=4)
    second = filled(tmp_path / "second.sqlite3")
    touchflow("store", "copy", str(first), url, cwd=tmp_path)
    refused = touchflow("store", "copy", str(second), url, cwd=tmp_path, check=False)
    assert refused.returncode == 1
    assert "is not empty (3 customers, 11 events, 1 suppression, 4 outbox rows)" in refused.stderr
    assert "add --replace" in refused.stderr
    assert counts(url) == counts(first)
    touchflow("store", "copy", "--replace", str(second), url, cwd=tmp_path)
    assert counts(url) == counts(second)


@pytest.mark.parametrize("side", ["source", "destination"])
def test_a_running_daemon_on_either_store_is_refused(tmp_path: Path, url: str, side: str) -> None:
    source = filled(tmp_path / "source.sqlite3")
    held: str | Path = source if side == "source" else url
    with StoreLock(held, holder=DAEMON):
        refused = touchflow("store", "copy", str(source), url, cwd=tmp_path, check=False)
    assert refused.returncode == 1
    assert "a daemon (`touchflow run`) is using the store" in refused.stderr
    assert "Stop it first." in refused.stderr
    assert set(counts(url).values()) == {0}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["postgresql://app:s3cret@localhost/shop", "x.sqlite3"],
         "SRC: postgresql://localhost/shop: a password does not belong on the command line"),
        (["a.sqlite3", "./a.sqlite3"], "DST: a.sqlite3 is SRC itself"),
        (["missing.sqlite3", "x.sqlite3"], "SRC: no store at missing.sqlite3"),
        (["ftp://host/x", "x.sqlite3"], "SRC: cannot open store ftp://…"),
        (["a.sqlite3", "b.sqlite3", "c.sqlite3"], "expected 1 or 2 stores, got 3"),
    ],
)  # fmt: skip
def test_arguments_that_name_no_copy_are_refused_with_exit_2(
    tmp_path: Path, args: list[str], words: str
) -> None:
    filled(tmp_path / "a.sqlite3")
    refused = touchflow("store", "copy", *args, cwd=tmp_path, check=False)
    assert refused.returncode == 2, refused.stderr
    assert words in refused.stderr
    assert "s3cret" not in refused.stderr + refused.stdout
    assert not (tmp_path / "x.sqlite3").exists()


# --- a daemon on the copy ----------------------------------------------------------------


def test_the_projects_store_moved_to_postgresql_sends_nothing_twice(
    tmp_path: Path, url: str
) -> None:
    handler = Handler()
    with serve(handler) as port:
        project = write_project(
            tmp_path,
            customers=[
                {"id": f"c{i}", "email": f"u{i}@example.com", "first_name": "Kim"} for i in range(5)
            ],
            events=[inquiry(i, customer=f"c{i}", subject=f"q-{i}") for i in range(5)],
            rules=ACK_ONLY,
            config=smtp_config(port),
        )
        first = touchflow("run", "--once", "--now", "2026-11-23T08:00:00Z", cwd=project).stdout
        moved = touchflow("store", "copy", url, cwd=project)  # SRC: the project's store
        env = {**os.environ, "TOUCHFLOW_STORE_URL": url}
        again = touchflow(
            "run", "--once", "--now", "2026-11-23T08:05:00Z", cwd=project, env=env
        ).stdout
    assert "Dispatched: 5 sent." in first, first
    assert f"Copied {Path('.touchflow') / 'store.sqlite3'} into postgresql://" in moved.stdout
    assert again.startswith("Dispatched: nothing."), again
    assert len(handler.received) == 5
    assert {t for t in DATA_TABLES if counts(url)[t]} == {"customers", "events", "outbox"}


def test_progress_goes_by_tenths_of_each_table(tmp_path: Path) -> None:
    source = filled(tmp_path / "source.sqlite3", customers=12_001, rows=10)  # one erased
    result = touchflow("store", "copy", str(source), "d.sqlite3", cwd=tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.startswith("customers:")]
    assert lines == [
        "customers: 5000 of 12000 copied",
        "customers: 10000 of 12000 copied",
        "customers: 12000 of 12000 copied",
    ]


def test_event_data_postgresql_cannot_hold_is_refused_naming_the_event(
    tmp_path: Path, url: str
) -> None:
    source = filled(tmp_path / "source.sqlite3")
    with sqlite3.connect(source) as db:  # a SQLite file keeps what a script wrote there
        (event_id,) = db.execute("SELECT id FROM events ORDER BY id LIMIT 1").fetchone()
        db.execute("UPDATE events SET data = '{\"f\":Infinity}' WHERE id = ?", (event_id,))
    failed = touchflow("store", "copy", str(source), url, cwd=tmp_path, check=False)
    assert failed.returncode == 1, failed.stderr
    assert f"events {event_id!r} holds a NUL character or a JSON number out of range" in (
        failed.stderr
    )
    assert counts(url)["events"] == 0  # nothing of it stays
