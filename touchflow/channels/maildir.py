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
import hashlib
from collections.abc import Awaitable
from pathlib import Path

from touchflow.channels import Delivery, Envelope, Outcome
from touchflow.channels.durable import os_error, write_durably

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
                detail=f"could not write into the maildir {self._path}: {os_error(exc)}",
                alert=True,
            )
        return Delivery(outcome=Outcome.SENT, detail=f"written to {target}")

    async def aclose(self) -> None:
        """Nothing to close: every send finishes its own file."""

    def _deliver(self, name: str, data: bytes) -> Path:
        # Every time, not once: a maildir removed while touchflow runs is recreated,
        # and three mkdir calls cost nothing next to the fsyncs of write_durably.
        for sub in _SUBDIRS:
            # Messages hold personal data: only the owner may read them.
            (self._path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self._path / "new" / name
        write_durably(self._path / "tmp", target, data)  # replaces an earlier copy
        return target
