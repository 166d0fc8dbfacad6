"""The store's lock names who holds it; `run` waits a moment for a CLI command, never
for another daemon."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from touchflow.send.lock import DAEMON, StoreLock, StoreLockedError


def test_a_second_daemon_is_refused_at_once_naming_the_first(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    with StoreLock(store):
        started = time.monotonic()
        with pytest.raises(StoreLockedError) as refused:
            StoreLock(store).acquire(wait=5)
    assert time.monotonic() - started < 1  # no waiting for a daemon: it never lets go
    assert refused.value.holder == DAEMON
    assert "another `touchflow run` (pid " in str(refused.value)


def test_a_command_holding_the_store_is_named_not_taken_for_a_daemon(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    with StoreLock(store, holder="touchflow event"):
        with pytest.raises(StoreLockedError) as refused:
            StoreLock(store).acquire()
    assert refused.value.holder == "touchflow event"
    assert "`touchflow event` (pid " in str(refused.value)
    assert "is changing the store" in str(refused.value)
    assert "two daemons" not in str(refused.value)


def test_a_daemon_starting_while_a_command_holds_the_store_waits_for_it(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
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
    old.path.write_text("4242\n")  # what touchflow wrote before: the pid alone
    try:
        with pytest.raises(StoreLockedError) as refused:
            StoreLock(store, holder="touchflow event").acquire(wait=5)
    finally:
        old.release()
    assert refused.value.holder == DAEMON
    assert "(pid 4242)" in str(refused.value)
