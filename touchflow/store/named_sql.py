"""Named SQL statements in a .sql file, read once: what each store's ``queries.py`` loads.

A block starts at a line ``-- name: <name>`` and runs to the next one; the comment
lines right below its name say what it is for and are not part of it. Inside a
block, ``{other}`` naming another block is that block's text, put in when the file
is loaded; a ``{slot}`` among the store's ``slots`` is left for the code that runs
the statement. A block that names a fragment or a slot nobody knows fails here, at
load, not when a statement first runs.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from importlib import resources
from types import MappingProxyType

_NAME = re.compile(r"^-- name: (\w+)[ \t]*$", re.MULTILINE)
_REFERENCE = re.compile(r"\{(\w+)\}")


def parse(text: str, *, slots: Collection[str], file: str = "queries.sql") -> dict[str, str]:
    """Each block of ``text`` by name, fragments put in; the comments above and below its
    statement (what it is for, the heading of the next section) are left out."""
    pieces = _NAME.split(text)  # [head, name, body, name, body, ...]
    blocks: dict[str, str] = {}
    for name, body in zip(pieces[1::2], pieces[2::2], strict=True):
        if name in blocks:
            raise ValueError(f"{file}: statement {name!r} is named twice")
        lines = body.splitlines()
        while lines and (lines[0].startswith("--") or not lines[0].strip()):
            del lines[0]
        while lines and (lines[-1].startswith("--") or not lines[-1].strip()):
            del lines[-1]
        blocks[name] = "\n".join(lines)

    def put_in(found: re.Match[str]) -> str:
        name = found[1]
        if name in slots:
            return found[0]
        if name not in blocks:
            raise ValueError(f"{file}: {{{name}}} is neither a statement nor a slot")
        return _REFERENCE.sub(put_in, blocks[name])

    return {name: _REFERENCE.sub(put_in, body) for name, body in blocks.items()}


def load(package: str, *, slots: Collection[str], file: str = "queries.sql") -> Mapping[str, str]:
    """The named statements of ``file`` beside ``package``'s modules."""
    text = resources.files(package).joinpath(file).read_text("utf-8")
    return MappingProxyType(parse(text, slots=slots, file=file))


def read(package: str, file: str) -> str:
    """A whole .sql file beside ``package``'s modules (a schema)."""
    return resources.files(package).joinpath(file).read_text("utf-8")
