"""The ``folder`` SMS provider: each text becomes a file in a folder of the project.

For trying rules out and for the sample project: nothing leaves the machine. A file
reads like this::

    To: +15017122661
    Key: appointment_reminder:c-1001:a-77

    Hi Ada, see you tomorrow at 10:30. Reply STOP to opt out.

It is written whole into ``tmp/`` and renamed into the folder (as the Maildir channel
does), so a reader never sees half a text. Its name comes from the touchpoint key: a
text sent again after a crash replaces the earlier file instead of adding a second.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from touchflow.channels import Delivery, Outcome
from touchflow.channels.durable import os_error, write_durably


def file_name_for(key: str) -> str:
    """``<sha256(key)[:32]>.txt``: one name per touchpoint, safe in any file system."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + ".txt"


class FolderProvider:
    """Writes each text as one file into ``path``."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def name(self) -> str:
        return f"folder {self._path}"

    @property
    def concurrency(self) -> int:
        return 4  # local disk writes: a few in flight hide fsync latency

    @property
    def path(self) -> Path:
        return self._path

    async def send_text(self, *, to: str, text: str, key: str) -> Delivery:
        content = f"To: {to}\nKey: {key}\n\n{text}\n".encode()
        try:
            target = await asyncio.to_thread(self._write, file_name_for(key), content)
        except OSError as exc:
            return Delivery(
                outcome=Outcome.RETRY,
                detail=f"could not write into {self._path}: {os_error(exc)}",
                alert=True,
            )
        return Delivery(outcome=Outcome.SENT, detail=f"written to {target}")

    async def aclose(self) -> None:
        """Nothing to close: every send finishes its own file."""

    def _write(self, name: str, content: bytes) -> Path:
        tmp_dir = self._path / "tmp"
        # Every time, not once: a folder removed while touchflow runs is recreated.
        # Texts hold personal data: only the owner may read them.
        self._path.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp_dir.mkdir(mode=0o700, exist_ok=True)
        target = self._path / name
        write_durably(tmp_dir, target, content)  # replaces an earlier copy of this text
        return target
