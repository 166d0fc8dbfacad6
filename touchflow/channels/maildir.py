"""A local Maildir: the default channel, so a fresh project sends nothing outside.

Delivery follows the Maildir convention: write the whole message into
``tmp/``, fsync it, then rename it into ``new/`` (and fsync the directory), so
a mail reader never sees half a message and a crash leaves at most a stray
file in ``tmp/``.

The file name is derived from the Message-ID, which touchflow derives from the
touchpoint key. A repeated delivery of the same message (a retry after a crash)
therefore replaces the file in ``new/`` instead of adding a second copy. Once a
mail reader has moved the message to ``cur/`` (renaming it with its flags), a
repeated delivery shows up in ``new/`` again, as a duplicate would in any inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
from collections.abc import Awaitable
from pathlib import Path

from touchflow.channels import Delivery, Envelope, Outcome

_SUBDIRS = ("tmp", "new", "cur")


def file_name_for(message_id: str) -> str:
    """``<sha256(Message-ID)[:32]>.touchflow``: one name per message, safe in any file system."""
    return hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:32] + ".touchflow"


class MaildirChannel:
    """Writes each message as one file into ``path/new``."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def name(self) -> str:
        return f"maildir {self._path}"

    @property
    def concurrency(self) -> int:
        # Local disk writes: a few in flight hide fsync latency; more only contend.
        return 4

    @property
    def path(self) -> Path:
        return self._path

    def unprime(self, envelope: Envelope) -> None:
        pass  # a Maildir starts nothing ahead

    async def send(
        self,
        envelope: Envelope,
        *,
        after: Awaitable[object] | None = None,
        then: Envelope | None = None,
    ) -> Delivery:
        if after is not None:
            await after
        name = file_name_for(envelope.message_id)
        try:
            # fsync can take tens of milliseconds: keep it off the event loop.
            target = await asyncio.to_thread(self._deliver, name, envelope.data)
        except OSError as exc:
            return Delivery(
                outcome=Outcome.RETRY,
                detail=f"could not write into the maildir {self._path}: {_os_error(exc)}",
                alert=True,
            )
        return Delivery(outcome=Outcome.SENT, detail=f"written to {target}")

    async def aclose(self) -> None:
        """Nothing to close: every send finishes its own file."""

    def _deliver(self, name: str, data: bytes) -> Path:
        # Every time, not once: a maildir removed while touchflow runs is recreated,
        # and three mkdir calls cost nothing next to the fsync below.
        for sub in _SUBDIRS:
            # Messages hold personal data: only the owner may read them.
            (self._path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        # A unique tmp name, so two sends of the same message never share a file.
        tmp = self._path / "tmp" / f"{name}.{os.getpid()}.{secrets.token_hex(6)}"
        target = self._path / "new" / name
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, target)  # atomic; replaces an earlier copy of this message
        except OSError:
            with contextlib.suppress(OSError):  # report the first error, not the cleanup's
                tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return target


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable (POSIX keeps directory entries separately)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{reason}{where}"
