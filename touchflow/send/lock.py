"""One writer that plans per store: an exclusive lock file next to the SQLite file.

The daemon holds it while it runs; a few CLI commands (`touchflow event`, `customers
delete`, `sample --remove/--reset`) hold it for a moment so no daemon plans while they
change the outbox. ``flock`` is released by the kernel when the process dies, even by
SIGKILL, so a crashed holder never leaves a stale lock behind; the pid and the holder's
command written into the file only serve the error message.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from touchflow.errors import TouchflowError

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
    def __init__(self, store_file: Path, *, holder: str = DAEMON) -> None:
        self.path = store_file.with_name(store_file.name + ".lock")
        self.holder = holder
        self._fd: int | None = None

    def acquire(self, *, wait: float = 0.0) -> None:
        """Take the lock. A CLI command holds it for a moment only, so while one does,
        try again for up to ``wait`` seconds; a daemon holding it is refused at once."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pid, holder = _read(fd)
                if holder == DAEMON or time.monotonic() >= deadline:
                    os.close(fd)
                    raise self._locked(pid, holder) from None
                time.sleep(_POLL)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n{self.holder}\n".encode())
        self._fd = fd

    def _locked(self, pid: str, holder: str) -> StoreLockedError:
        store = self.path.with_suffix("")
        by = f" (pid {pid})" if pid else ""
        if holder == DAEMON:
            message = (
                f"another `touchflow run`{by} is using the store {store}; two daemons on one "
                "store could send twice, so this one does not start. Stop the other one first "
                "(or point this one at another store)."
            )
        else:
            message = (
                f"`{holder}`{by} is changing the store {store} right now; "
                "try again when it has finished."
            )
        return StoreLockedError(message, holder=holder)

    def release(self) -> None:
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
