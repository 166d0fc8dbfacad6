"""The store's lock names who holds it; `run` waits a moment for a CLI command, never
for another daemon. A SQLite store's lock is a file beside it, a PostgreSQL store's an
advisory lock in its database: the same behaviour, pinned over both."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import fresh_store_url

from touchflow.config.store import StoreLocation
from touchflow.send.lock import DAEMON, StoreLock, StoreLockedError


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreLocation]:
    if request.param == "sqlite":
        yield tmp_path / "store.sqlite3"
    else:
        with fresh_store_url() as url:
            yield url


def test_a_second_daemon_on_a_sqlite_file_is_refused_at_once_naming_the_first(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store.sqlite3"
    with StoreLock(store, instance="first"):
        started = time.monotonic()
        with pytest.raises(StoreLockedError) as refused:
            StoreLock(store, instance="second").acquire(wait=5)
    assert time.monotonic() - started < 1  # no waiting for a daemon: it never lets go
    assert refused.value.holder == DAEMON
    assert "another `touchflow run` (pid " in str(refused.value)
    assert "Several daemons can share a PostgreSQL store" in str(refused.value)


def test_daemons_share_a_postgresql_store_and_a_command_is_refused_naming_one() -> None:
    with fresh_store_url() as url, StoreLock(url, instance="a"), StoreLock(url, instance="b"):
        with pytest.raises(StoreLockedError) as refused:
            StoreLock(url, holder="touchflow customers delete").acquire(wait=5)
    assert refused.value.holder == DAEMON
    assert "a `touchflow run` (pid " in str(refused.value)


def test_a_command_holding_the_store_is_named_not_taken_for_a_daemon(
    store: StoreLocation,
) -> None:
    with StoreLock(store, holder="touchflow event"):
        with pytest.raises(StoreLockedError) as refused:
            StoreLock(store).acquire()
    assert refused.value.holder == "touchflow event"
    assert "`touchflow event` (pid " in str(refused.value)
    assert "is changing the store" in str(refused.value)
    assert "two daemons" not in str(refused.value)


def test_a_daemon_starting_while_a_command_holds_the_store_waits_for_it(
    store: StoreLocation,
) -> None:
    command = StoreLock(store, holder="touchflow customers delete")
    command.acquire()
    threading.Timer(0.3, command.release).start()
    daemon = StoreLock(store)
    daemon.acquire(wait=5)  # would raise at once without the wait
    daemon.release()


def test_a_lock_file_from_before_holders_were_named_was_a_daemons(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    old = StoreLock(store)
    old.acquire()
    assert old.path is not None
    old.path.write_text("4242\n")  # what touchflow wrote before: the pid alone
    try:
        with pytest.raises(StoreLockedError) as refused:
            StoreLock(store, holder="touchflow event").acquire(wait=5)
    finally:
        old.release()
    assert refused.value.holder == DAEMON
    assert "(pid 4242)" in str(refused.value)


def test_a_released_lock_is_taken_again_and_a_store_in_another_schema_is_apart(
    store: StoreLocation, tmp_path: Path
) -> None:
    first = StoreLock(store)
    first.acquire()
    first.release()
    with StoreLock(store):  # taken again at once
        elsewhere = tmp_path / "other.sqlite3"
        if isinstance(store, str):
            with fresh_store_url() as other:
                with StoreLock(other):
                    pass  # a store in another schema of the same database has its own
        else:
            with StoreLock(elsewhere):
                pass
