"""The PostgreSQL store's named statements, read from ``queries.sql`` once, at import.

A statement is ``SQL["name"]``; the one per-call slot, ``{where}`` (see the head of
queries.sql), is filled with ``SQL["name"].format(where=...)``. How a .sql file is
read: ``touchflow.store.named_sql``.
"""

from __future__ import annotations

from touchflow.store import named_sql

SLOTS = frozenset({"where"})

SQL = named_sql.load(__package__, slots=SLOTS)
SCHEMA = named_sql.read(__package__, "schema.sql")
