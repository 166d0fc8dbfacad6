"""The SQLite store's named statements, read from ``queries.sql`` once, at import.

A statement is ``SQL["name"]``; one with a per-call slot (``{marks}``, ``{values}``,
``{where}``: see the head of queries.sql) is ``SQL["name"].format(...)``, and
``marks(n)`` fills an IN list. A block that names a fragment or a slot nobody
knows fails here, at import, not when a statement first runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

# Filled per call by the code that runs the statement; every other {name} is a block.
SLOTS = frozenset({"marks", "values", "where"})
_NAME = re.compile(r"^-- name: (\w+)[ \t]*$", re.MULTILINE)
_REFERENCE = re.compile(r"\{(\w+)\}")


def parse(text: str) -> dict[str, str]:
    """Each block of ``text`` by name, fragments put in; the comments above and below its
    statement (what it is for, the heading of the next section) are left out."""
    pieces = _NAME.split(text)  # [head, name, body, name, body, ...]
    blocks: dict[str, str] = {}
    for name, body in zip(pieces[1::2], pieces[2::2], strict=True):
        if name in blocks:
            raise ValueError(f"queries.sql: statement {name!r} is named twice")
        lines = body.splitlines()
        while lines and (lines[0].startswith("--") or not lines[0].strip()):
            del lines[0]
        while lines and (lines[-1].startswith("--") or not lines[-1].strip()):
            del lines[-1]
        blocks[name] = "\n".join(lines)

    def put_in(found: re.Match[str]) -> str:
        name = found[1]
        if name in SLOTS:
            return found[0]
        if name not in blocks:
            raise ValueError(f"queries.sql: {{{name}}} is neither a statement nor a slot")
        return _REFERENCE.sub(put_in, blocks[name])

    return {name: _REFERENCE.sub(put_in, body) for name, body in blocks.items()}


def marks(count: int) -> str:
    """The ``?`` of an IN list of ``count`` values."""
    return ", ".join("?" * count)


def _load() -> Mapping[str, str]:
    text = resources.files(__package__).joinpath("queries.sql").read_text("utf-8")
    return MappingProxyType(parse(text))


SQL = _load()
SCHEMA = resources.files(__package__).joinpath("schema.sql").read_text("utf-8")
