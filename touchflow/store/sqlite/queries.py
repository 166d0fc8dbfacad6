"""The SQLite store's named statements, read from ``queries.sql`` once, at import.

A statement is ``SQL["name"]``; one with a per-call slot (``{marks}``, ``{values}``,
``{where}``: see the head of queries.sql) is ``SQL["name"].format(...)``, and
``marks(n)`` fills an IN list. How a .sql file is read: ``touchflow.store.named_sql``.
"""

from __future__ import annotations

from touchflow.store import named_sql

# Filled per call by the code that runs the statement; every other {name} is a block.
SLOTS = frozenset({"marks", "values", "where"})


def parse(text: str) -> dict[str, str]:
    """Each block of ``text`` by name, fragments put in (see ``named_sql.parse``)."""
    return named_sql.parse(text, slots=SLOTS)


def marks(count: int) -> str:
    """The ``?`` of an IN list of ``count`` values."""
    return ", ".join("?" * count)


SQL = named_sql.load(__package__, slots=SLOTS)
SCHEMA = named_sql.read(__package__, "schema.sql")
