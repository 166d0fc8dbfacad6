"""Group commit of claim outcomes (touchflow.send.record) on a real SQLite store."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from touchflow.errors import StoreError
from touchflow.models import Category, OutboxRow, OutboxState
from touchflow.send.record import Recorder
from touchflow.store import Finish, Store, open_store

NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)


def row(key: str) -> OutboxRow:
    return OutboxRow(
        key=key,
        rule_id="ack",
        customer_id=key,
        category=Category.TRANSACTIONAL,
        counts_for_caps=True,
        state=OutboxState.PENDING,
        due_at=NOW,
        expires_at=NOW + timedelta(days=1),
        next_attempt_at=NOW,
        to=f"{key}@example.com",
    )


class Spy:
    """A real store, counting the writes ``finish_claims`` makes and failing on demand;
    every other method is the store's own."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.writes: list[int] = []
        self.failures = 0
        self.lost_replies = 0  # writes that commit, and whose answer never comes back

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def finish_claims(
        self, items: Sequence[Finish], *, owner: str, now: datetime
    ) -> list[bool]:
        self.writes.append(len(items))
        if self.failures:
            self.failures -= 1
            raise StoreError("cannot record sends in store: database is locked")
        done = await self.store.finish_claims(items, owner=owner, now=now)
        if self.lost_replies:
            self.lost_replies -= 1
            raise StoreError("cannot record sends in store: server closed the connection")
        return done


async def claimed(path: Path, keys: list[str]) -> tuple[Spy, list[OutboxRow]]:
    store = Spy(await open_store(path))
    await store.write_plan([row(k) for k in keys], [], now=NOW)
    rows = await store.claim_due(owner="w", now=NOW, ttl=timedelta(minutes=5), limit=100)
    return store, rows


async def no_wait(_: float) -> None:
    """Instead of the recorder's pause between tries."""


def sent(r: OutboxRow) -> OutboxRow:
    return OutboxRow(**{**_fields(r), "state": OutboxState.SENT, "message_id": f"<{r.key}@x>"})


def _fields(r: OutboxRow) -> dict[str, object]:
    return {name: getattr(r, name) for name in OutboxRow.__dataclass_fields__}


async def test_outcomes_that_arrive_together_share_one_committed_write(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store, rows = await claimed(path, ["a", "b", "c", "d", "e"])
    recorder = Recorder(store, owner="w", clock=lambda: NOW)
    try:
        results = await asyncio.gather(*(recorder.record(sent(r), attempted=True) for r in rows))
    finally:
        await store.close()
    assert results == [True] * 5
    assert store.writes == [5]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT DISTINCT state FROM outbox").fetchall() == [("sent",)]


async def test_a_write_waits_for_one_outcome_per_connection_before_it_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("touchflow.send.record.LINGER", 60.0)  # only a full group can end the wait
    store, rows = await claimed(tmp_path / "store.sqlite3", ["a", "b", "c"])
    recorder = Recorder(store, owner="w", clock=lambda: NOW, group=3)
    try:
        first = asyncio.create_task(recorder.record(sent(rows[0]), attempted=True))
        for _ in range(5):
            await asyncio.sleep(0)
        assert store.writes == [] and not first.done()
        rest = [recorder.record(sent(r), attempted=True) for r in rows[1:]]
        assert await asyncio.gather(first, *rest) == [True, True, True]
    finally:
        await store.close()
    assert store.writes == [3]


async def test_a_busy_store_is_retried_and_every_waiter_gets_its_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("touchflow.send.record.asyncio.sleep", no_wait)
    store, rows = await claimed(tmp_path / "store.sqlite3", ["a", "b"])
    store.failures = 1
    recorder = Recorder(store, owner="other", clock=lambda: NOW)  # not our claims: False
    try:
        results = await asyncio.gather(*(recorder.record(sent(r), attempted=True) for r in rows))
    finally:
        await store.close()
    assert results == [False, False]
    assert store.writes == [2, 2]


async def test_a_store_busy_for_long_is_tried_until_the_outcomes_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr("touchflow.send.record.asyncio.sleep", pause)
    store, rows = await claimed(tmp_path / "store.sqlite3", ["a", "b"])
    store.failures = 20  # busy for about 8 minutes: an import of millions of rows
    recorder = Recorder(store, owner="w", clock=lambda: NOW)
    try:
        results = await asyncio.gather(*(recorder.record(sent(r), attempted=True) for r in rows))
        states = {k: r.state for k, r in (await store.outbox_by_keys(["a", "b"])).items()}
    finally:
        await store.close()
    assert results == [True, True]  # recorded, so never taken back and sent twice
    assert states == {"a": OutboxState.SENT, "b": OutboxState.SENT}
    assert pauses[:6] == [1, 2, 4, 8, 16, 30] and set(pauses[5:]) == {30}
    busy = [r.getMessage() for r in caplog.records if "recording" in r.getMessage()]
    assert 1 < len(busy) <= 1 + sum(pauses) // 30  # a line every 30 s, not every try
    assert busy[0].startswith("cannot record sends in store: database is locked; recording a")


async def test_an_outcome_committed_whose_answer_was_lost_counts_as_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The commit went through, the connection broke before its answer: the retry finds the
    # rows no longer claimed. They hold these very outcomes: recorded, not "taken back".
    monkeypatch.setattr("touchflow.send.record.asyncio.sleep", no_wait)
    store, rows = await claimed(tmp_path / "store.sqlite3", ["a", "b"])
    store.lost_replies = 1
    recorder = Recorder(store, owner="w", clock=lambda: NOW)
    try:
        results = await asyncio.gather(*(recorder.record(sent(r), attempted=True) for r in rows))
    finally:
        await store.close()
    assert results == [True, True]
    assert store.writes == [2, 2]
