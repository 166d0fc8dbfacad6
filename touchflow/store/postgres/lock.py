"""The PostgreSQL store's daemon locks, on a connection of their own (psycopg's sync API:
the first is taken before the daemon's event loop starts; later calls run in a thread).

- The store lock (what the lock file is to a SQLite store): every daemon holds it
  shared, a CLI command that must have no daemon planning (`customers delete`,
  `sample --reset`) exclusively. Any number of daemons share a PostgreSQL store.
- The instance lock: one per daemon, keyed by its instance id. A claim whose owner's
  instance lock is not held belongs to a daemon that is gone (``owner_gone`` in
  queries.sql): its claims are taken back at once, not after their lease.
- The lead: the one daemon that plans (re-plans changes, the full plan), River's and
  Oban's leader. The others send; when the leader's session ends, one of them takes
  the lead at its next ``watch`` tick.

The server lets go of all three when the connection ends, also when the holder is
killed. A connection lost while the daemon runs (the server restarted) is made
again at the next ``lead()``, and the store and instance locks taken again.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import psycopg

from touchflow import logs
from touchflow.config.store import shown_location
from touchflow.errors import StoreError
from touchflow.store.postgres.connection import KEEPALIVES
from touchflow.store.postgres.queries import SQL
from touchflow.store.postgres.urls import checked, driver_words

_PID = " pid "  # between the holder and its pid, in application_name


class AdvisoryLock:
    def __init__(self, url: str, holder: str, *, instance: str | None = None) -> None:
        self._url = url
        self._holder = holder
        self._instance = instance  # a daemon's: the store lock shared, its own lock held
        self._db: psycopg.Connection[Any] | None = None
        self._leading = False
        self._mutex = threading.Lock()  # lead() runs in a thread; release() in the loop's

    def try_acquire(self) -> tuple[str, str] | None:
        """None if taken now; else ``(pid, holder)`` of whoever has it."""
        db = self._connect()
        statement = SQL["try_daemon_lock" if self._instance else "try_writer_lock"]
        for _ in range(3):  # a holder gone between the try and the look: try again
            row = db.execute(statement).fetchone()
            if row and row[0]:
                self._db = db
                if self._instance is not None:
                    self._take_instance(db)
                return None
            if not row or row[0] is None:  # current_schema() is NULL: no schema to be in
                db.close()
                raise StoreError(
                    f"cannot lock store {shown_location(self._url)}: no schema named in its "
                    "search_path exists; create it (CREATE SCHEMA) or correct the URL's options"
                )
            found = db.execute(SQL["writer_lock_holder"]).fetchone()
            if found:
                db.close()
                holder, _, pid = str(found[0]).rpartition(_PID)
                return (pid, holder) if holder else ("", "")
        db.close()
        return "", ""

    def lead(self) -> bool:
        """Whether this daemon plans: the lead kept, or taken if no one has it. A lost
        connection is made again first (``StoreError`` if the server cannot be reached)."""
        try:
            return self._lead()
        except psycopg.Error as exc:
            self._leading = False
            where = shown_location(self._url)
            raise StoreError(f"cannot lock store {where}: {driver_words(exc, self._url)}") from exc

    def _lead(self) -> bool:
        with self._mutex:
            if self._db is None or self._db.closed or self._db.broken:
                if self._db is not None:
                    self._db.close()
                self._reconnect()  # after a failed try below, or the server restarted
            assert self._db is not None
            try:
                if self._leading:
                    self._db.execute(SQL["still_there"])
                else:
                    row = self._db.execute(SQL["try_lead"]).fetchone()
                    self._leading = bool(row and row[0])
            except psycopg.OperationalError as exc:
                self._db.close()
                logs.log.warning(
                    "the connection holding this daemon's locks on store %s broke (%s); "
                    "making it again", shown_location(self._url), driver_words(exc, self._url),
                )  # fmt: skip
                return self._lead_again()
            return self._leading

    def _lead_again(self) -> bool:
        """After the connection broke mid-call: once more, on a new one."""
        self._reconnect()
        assert self._db is not None
        row = self._db.execute(SQL["try_lead"]).fetchone()
        self._leading = bool(row and row[0])
        return self._leading

    def _reconnect(self) -> None:
        self._leading = False
        db = self._connect()
        row = db.execute(SQL["try_daemon_lock"]).fetchone()
        if not (row and row[0]):  # a CLI command holds it exclusively for a moment
            db.close()
            raise StoreError(f"store {shown_location(self._url)} is locked by a command")
        self._take_instance(db)
        self._db = db

    def _take_instance(self, db: psycopg.Connection[Any]) -> None:
        row = db.execute(SQL["take_instance_lock"], (self._instance,)).fetchone()
        if not (row and row[0]):
            db.close()
            raise StoreError(
                f"instance id {self._instance!r} shares its lock on store "
                f"{shown_location(self._url)} with a running daemon's (one start in about "
                "two billion); start this one again: it draws another id"
            )

    def _connect(self) -> psycopg.Connection[Any]:
        name = f"{self._holder}{_PID}{os.getpid()}"[:63]
        checked(self._url, "lock")
        try:
            return psycopg.connect(
                self._url, autocommit=True, application_name=name, connect_timeout=10,
                **KEEPALIVES,
            )  # fmt: skip
        except psycopg.Error as exc:
            where = shown_location(self._url)
            words = driver_words(exc, self._url)
            raise StoreError(f"cannot lock store {where}: {words}") from exc

    def release(self) -> None:
        with self._mutex:
            if self._db is not None:
                self._db.close()  # the server lets go of the locks with the session
                self._db = None
                self._leading = False
