"""The daemon's lock on its store: an exclusive lock file next to the SQLite file (one
daemon per file), or the PostgreSQL store's advisory locks (``touchflow.store.writer_lock``),
which every daemon of the store shares and where one of them holds the lead (it plans).

The daemon holds it while it runs; a few CLI commands (`touchflow event`, `customers
delete`, `sample --remove/--reset`) hold it alone for a moment so no daemon plans while
they change the outbox. ``flock`` is released by the kernel when the process dies, even by
SIGKILL, so a crashed holder never leaves a stale lock behind; the pid and the holder's
command written into the file only serve the error message. PostgreSQL lets go of its
lock when the holder's session ends, killed or not.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from touchflow.config.store import StoreLocation, shown_location
from touchflow.errors import TouchflowError
from touchflow.store import WriterLock, writer_lock

DAEMON = "touchflow run"
# How long a CLI command waits for another one holding the store (never for a daemon).
CLI_WAITS = 5.0
_POLL = 0.05  # seconds between two tries while waiting for a short-lived holder


class StoreLockedError(TouchflowError):
    """Another process holds the store: a daemon, or a CLI command for a moment."""

    def __init__(self, message: str, *, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class StoreLock:
    """``instance``: a daemon's id (``touchflow.send.instance``); a daemon on PostgreSQL
    shares the store with the other daemons, everywhere else the lock is held alone."""

    def __init__(
        self, location: StoreLocation, *, holder: str = DAEMON, instance: str | None = None
    ) -> None:
        self.store = shown_location(location)
        self.holder = holder
        self.instance = instance or ""
        self._fd: int | None = None
        self._server: WriterLock | None = None
        if isinstance(location, Path):
            self.path: Path | None = location.with_name(location.name + ".lock")
        else:
            self.path = None
            self._server = writer_lock(location, holder, instance=instance)

    @property
    def shared(self) -> bool:
        """Whether other daemons may run on this store beside this one."""
        return self._server is not None and bool(self.instance)

    async def lead(self) -> bool:
        """Whether this daemon plans now: always alone on its store; on a shared store
        if it holds the lead (taken when free). ``StoreError``: the store is out of reach."""
        if self._server is None or not self.instance:
            return True
        return await asyncio.to_thread(self._server.lead)

    def acquire(self, *, wait: float = 0.0) -> None:
        """Take the lock. A CLI command holds it for a moment only, so while one does,
        try again for up to ``wait`` seconds; a daemon holding it is refused at once."""
        deadline = time.monotonic() + wait
        while (held_by := self._try()) is not None:
            pid, holder = held_by
            if holder == DAEMON or time.monotonic() >= deadline:
                self._close()
                raise self._locked(pid, holder) from None
            time.sleep(_POLL)
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.write(self._fd, f"{os.getpid()}\n{self.holder}\n".encode())

    def _try(self) -> tuple[str, str] | None:
        """None if taken; else ``(pid, holder)`` of the one who has it."""
        if self._server is not None:
            found = self._server.try_acquire()
            # A holder not known (another program's session) counts as a daemon's.
            return None if found is None else (found[0], found[1] or DAEMON)
        assert self.path is not None
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(self._fd)
        return None

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _locked(self, pid: str, holder: str) -> StoreLockedError:
        store = self.store
        by = f" (pid {pid})" if pid else ""
        if holder == DAEMON and self.path is not None:
            message = (
                f"another `touchflow run`{by} is using the store {store}; two daemons on one "
                "SQLite file could send twice, so this one does not start. Stop the other one "
                "first (or point this one at another store). Several daemons can share a "
                'PostgreSQL store (docs/operations.md, "More than one daemon").'
            )
        elif holder == DAEMON:
            message = f"a `touchflow run`{by} is using the store {store}; stop it first."
        else:
            message = (
                f"`{holder}`{by} is changing the store {store} right now; "
                "try again when it has finished."
            )
        return StoreLockedError(message, holder=holder)

    def release(self) -> None:
        if self._server is not None:
            self._server.release()
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read(fd: int) -> tuple[str, str]:
    """``(pid, holder)`` from the lock file; a file from before holders were written
    (only a pid) was a daemon's."""
    try:
        lines = os.pread(fd, 512, 0).decode().splitlines()
    except (OSError, UnicodeDecodeError):
        return "", DAEMON
    pid = lines[0].strip() if lines and lines[0].strip().isdigit() else ""
    holder = lines[1].strip() if len(lines) > 1 and lines[1].strip() else DAEMON
    return pid, holder
