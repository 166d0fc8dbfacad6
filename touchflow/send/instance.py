"""Who a daemon is among the daemons of its store, and whether it plans.

Every `touchflow run` has an instance id (``host-pid-xxxxxxxx``): the owner of its claims,
in its log lines and in /metrics. On a SQLite store a daemon is alone (its lock
file) and plans; on PostgreSQL every daemon sends and the one holding the lead
(a lock the PostgreSQL store keeps, see docs/postgresql.md) plans.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

_HOST_CHARS = re.compile(r"[^A-Za-z0-9.-]+")


def new_instance_id() -> str:
    """``host-pid-xxxxxxxx``: readable in a log, unique among the daemons of a store."""
    host = _HOST_CHARS.sub("-", socket.gethostname()).strip("-.")[:24] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


class Lead(Protocol):
    """The daemon's lock on its store (``touchflow.send.lock.StoreLock``)."""

    @property
    def instance(self) -> str:
        """This daemon's id: the owner of its claims."""
        ...

    @property
    def shared(self) -> bool:
        """Whether other daemons may run beside this one."""
        ...

    async def lead(self) -> bool:
        """Whether this daemon plans now; ``StoreError`` when the store is out of reach."""
        ...


@dataclass(frozen=True, slots=True)
class Alone:
    """A daemon alone on its store (SQLite, or a test): it always plans."""

    instance: str

    @property
    def shared(self) -> bool:
        return False

    async def lead(self) -> bool:
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class Standing:
    """What /healthz and /metrics say of this daemon among the others."""

    instance: str
    shared: bool
    planner: bool
    store_ok: bool = True
    since: datetime | None = None  # when the store was last found out of reach
    error: str = ""

    @property
    def role(self) -> str:
        return "planner" if self.planner else "sender"
