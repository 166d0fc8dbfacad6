"""The PostgreSQL store's single-daemon lock: what the lock file is to a SQLite store.

A session advisory lock on a connection of its own (psycopg's sync API: it is taken
before the daemon's event loop starts), one per schema of a database. The server
releases it when the connection ends, also when the holder is killed. Until several
daemons share a store with leases (issue 16, later), one daemon at a time: a
second one would take back the first one's claims when it starts.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg

from touchflow.config.store import shown_location
from touchflow.errors import StoreError
from touchflow.store.postgres.queries import SQL
from touchflow.store.postgres.urls import checked, driver_words

_PID = " pid "  # between the holder and its pid, in application_name


class AdvisoryLock:
    def __init__(self, url: str, holder: str) -> None:
        self._url = url
        self._holder = holder
        self._db: psycopg.Connection[Any] | None = None

    def try_acquire(self) -> tuple[str, str] | None:
        """None if taken now; else ``(pid, holder)`` of whoever has it."""
        name = f"{self._holder}{_PID}{os.getpid()}"[:63]
        checked(self._url, "lock")
        try:
            db = psycopg.connect(
                self._url, autocommit=True, application_name=name, connect_timeout=10
            )
        except psycopg.Error as exc:
            where = shown_location(self._url)
            words = driver_words(exc, self._url)
            raise StoreError(f"cannot lock store {where}: {words}") from exc
        row = db.execute(SQL["try_writer_lock"]).fetchone()
        if row and row[0]:
            self._db = db
            return None
        if not row or row[0] is None:  # current_schema() is NULL: no schema to be in
            db.close()
            raise StoreError(
                f"cannot lock store {shown_location(self._url)}: no schema named in its "
                "search_path exists; create it (CREATE SCHEMA) or correct the URL's options"
            )
        found = db.execute(SQL["writer_lock_holder"]).fetchone()
        db.close()
        holder, _, pid = str(found[0] if found else "").rpartition(_PID)
        return (pid, holder) if holder else ("", "")

    def release(self) -> None:
        if self._db is not None:
            self._db.close()  # the server lets go of the lock with the session
            self._db = None
