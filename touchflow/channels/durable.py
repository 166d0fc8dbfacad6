"""Writing a file so that a reader never sees half of it and a crash loses nothing
acknowledged: whole into a unique file in a ``tmp`` directory, fsync, rename over the
target, fsync the target's directory. The Maildir channel and the SMS folder provider
deliver this way."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_durably(tmp_dir: Path, target: Path, data: bytes) -> None:
    """``data`` as ``target`` (mode 0600), replacing an earlier copy atomically; raises
    ``OSError``, leaving no file of its own in ``tmp_dir``."""
    # A unique tmp name, so two sends of the same message never share a file.
    tmp = tmp_dir / f"{target.name}.{os.getpid()}.{secrets.token_hex(6)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)  # atomic
    except OSError:
        with contextlib.suppress(OSError):  # report the first error, not the cleanup's
            tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable (POSIX keeps directory entries separately)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def os_error(exc: OSError) -> str:
    """``No space left on device (/path)``: the reason and the file, for a detail."""
    reason = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{reason}{where}"
