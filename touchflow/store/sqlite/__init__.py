"""The SQLite implementation of the ``Store``: the embedded default, one file, no server.

``open_store`` (``touchflow.store``) is how callers get one; only the store's own
wing and the tests that look inside the file name ``SqliteStore``. Its SQL lives
beside it: ``schema.sql`` and the named statements of ``queries.sql``.
"""

from __future__ import annotations

from touchflow.store.sqlite.store import SCHEMA_VERSION, SqliteStore

__all__ = ["SCHEMA_VERSION", "SqliteStore"]
