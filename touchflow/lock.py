"""One daemon per store: an exclusive lock file next to the SQLite file.

``flock`` is released by the kernel when the process dies, even by SIGKILL, so
a crashed daemon never leaves a stale lock behind; the pid written into the
file only serves the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from touchflow.errors import TouchflowError


class StoreLockedError(TouchflowError):
    """Another `touchflow run` holds the store."""


class StoreLock:
    def __init__(self, store_file: Path) -> None:
        self.path = store_file.with_name(store_file.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise StoreLockedError(
                f"another `touchflow run`{holder} is using the store {self.path.with_suffix('')}; "
                "two daemons on one store could send twice, so this one does not start. "
                "Stop the other one first (or point this one at another store)."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

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


def _read(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
