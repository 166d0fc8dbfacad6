"""The console without a daemon (`touchflow console`): the same pages, read-only.

The pages read the project's files and its store as the daemon's console does; nothing
here plans into the outbox, sends or takes the daemon's lock. The retry route is not
served (the pages say "read-only: run the daemon to retry"), and the store is reached
through ``ReadOnlyStore``, which refuses every method that writes, so a page that tried
would fail loudly instead of changing the store. Sessions live in this process, as the
daemon's do: logging in here does not log in to a daemon.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from starlette.applications import Starlette

from touchflow.clock import Clock
from touchflow.config.http import HttpSecrets
from touchflow.config.store import StoreLocation
from touchflow.console.routes import console_routes
from touchflow.errors import TouchflowError
from touchflow.project import Project
from touchflow.send.daemon_planning import LastPlan
from touchflow.send.instance import Standing
from touchflow.store import Store

# What a method's name starts with when it changes the store (touchflow.store.boundary).
WRITES = (
    "upsert_", "add_", "bulk_", "write_", "claim_", "finish_", "renew_", "reclaim",
    "requeue", "remove_", "delete_", "erase_", "set_", "record_", "cancel", "start_",
    "take_", "advance_", "end_", "drop_", "planning_turn",
)  # fmt: skip
INSTANCE = "console"  # the instance the health page names: this process, no daemon


class ReadOnlyError(TouchflowError):
    """A page tried to change the store of a read-only console: a bug, never silent."""


class ReadOnlyStore:
    """A store whose reads pass through and whose writes raise ``ReadOnlyError``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name.startswith(WRITES):
            raise ReadOnlyError(f"touchflow console is read-only: it does not call {name}()")
        return getattr(self._store, name)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflineEngine:
    """The ``Engine`` the console reads (``touchflow.console.backing``), with no daemon."""

    project: Project
    store: Store
    clock: Clock

    def timers(self) -> dict[str, datetime | None] | None:
        return None  # no scheduler: the health page says the daemon is not running

    @property
    def standing(self) -> Standing:
        return Standing(instance=INSTANCE, shared=False, planner=False)

    @property
    def last_plan(self) -> LastPlan | None:
        return None  # no daemon here: the health page says another one plans


class NoReplanning:
    """A read-only console re-plans nothing: no route of it asks (retry is not served)."""

    def request(self) -> None:
        raise ReadOnlyError("touchflow console is read-only: it does not re-plan")


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflineBacking:
    engine: OfflineEngine
    secrets: HttpSecrets  # only the token is read: the login compares with it
    replanner: NoReplanning


def offline_app(project: Project, store: Store, clock: Clock, token: str) -> Starlette:
    """The read-only console's app over ``store`` (opened by the caller)."""
    engine = OfflineEngine(project=project, store=cast(Store, ReadOnlyStore(store)), clock=clock)
    backing = OfflineBacking(
        engine=engine,
        secrets=HttpSecrets(token=token, unsubscribe_key=""),
        replanner=NoReplanning(),
    )
    app = Starlette(routes=console_routes(read_only=True))
    app.state.api = backing
    app.state.read_only = True
    return app


def daemon_holder(location: StoreLocation) -> str | None:
    """Who holds a SQLite store's daemon lock now ("pid 123"), found without taking it:
    the kernel's list of locks (Linux's /proc/locks) names the holder of the lock file.
    None: no one, or not known (a PostgreSQL store, or no /proc)."""
    if not isinstance(location, Path):
        return None
    path = location.with_name(location.name + ".lock")
    try:
        found = os.stat(path)
        locks = Path("/proc/locks").read_text(encoding="ascii")
    except OSError:
        return None
    device = f"{os.major(found.st_dev):02x}:{os.minor(found.st_dev):02x}:{found.st_ino}"
    for line in locks.splitlines():
        fields = line.split()
        if "->" not in fields and len(fields) > 5 and fields[1] == "FLOCK":
            if fields[5] == device:
                return f"pid {fields[4]}"
    return None
