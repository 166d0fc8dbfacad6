"""What an identifier a user supplies may hold, and how text is shown where it must stay one line.

Customer ids, event ids and event types are identifiers: they go into touchpoint
keys, log lines, error messages and URLs. Every door (an import file, ``touchflow
event``, the HTTP interface) checks them here, so a line break or a control
character cannot reach a log line, where it could start a line that looks like
touchflow wrote it.

The alphabet is what ``str.isprintable`` accepts: letters, marks, digits,
punctuation and symbols of any script, and the plain space; no control, format
(bidi overrides, zero-width characters), surrogate or private-use character, no
line or paragraph separator and no other kind of space. No space at either end,
and at most ``MAX_ID_CHARS`` characters: ``c-001``, ``ana@example.com``, a UUID or
``Kunde 17`` are ids; ``"c1\\n2026-12-06 WARNING"`` is not.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

MAX_ID_CHARS = 255  # an e-mail address (at most 254) fits
ALPHABET = (
    "letters, digits, punctuation and symbols of any script, and plain spaces inside; "
    f"no control characters or line breaks, at most {MAX_ID_CHARS} characters"
)
# Shown as escapes in a text log line: controls (C0, DEL, C1 with NEL), format
# characters (bidi overrides that reorder what a reader sees, zero-width ones),
# surrogates (which could not even be written) and the line/paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Controls have no Unicode names; these are the ones a file or a form most often holds.
_CONTROL_NAMES = {
    "\n": "line feed",
    "\r": "carriage return",
    "\t": "tab",
    "\x00": "NUL",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x85": "next line, NEL",
}


def id_problem(text: str) -> str | None:
    """Why ``text`` is not an identifier (after the caller stripped it), or None if it is."""
    if len(text) > MAX_ID_CHARS:
        return f"is {len(text)} characters long; at most {MAX_ID_CHARS} allowed"
    if text.isprintable():  # the common case, one C-level scan
        return None
    at, char = next((i, c) for i, c in enumerate(text, 1) if not c.isprintable())
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "").lower() or "a control character"
    return f"holds U+{ord(char):04X} ({name}) at character {at}; an id may hold {ALPHABET}"


def shown(text: str) -> str:
    """``text`` quoted for an error message, on one line (JSON escapes C0 controls;
    ``one_line`` the rest, such as U+2028, which JSON leaves as it is)."""
    return one_line(json.dumps(text, ensure_ascii=False))


def one_line(text: str) -> str:
    """``text`` with every control, format or line-separating character as a visible
    escape (``\\n``, ``\\x00``, ``\\u2028``), so it prints as one line that says what it held.

    A backslash is left as it is: ``\\n`` may also be a backslash and an ``n`` in the data
    (the JSON log is exact); what matters is that no second line can appear."""
    if text.isprintable():  # the common case, one C-level scan
        return text
    return "".join(_escaped(c) for c in text)


def _escaped(char: str) -> str:
    if unicodedata.category(char) not in _ESCAPED_CATEGORIES:
        return char  # other spaces (a no-break space) and unassigned characters
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def quoted(value: Any) -> str:
    """A value as JSON writes it: how a problem names what a file holds."""
    return json.dumps(value, ensure_ascii=False, default=str)
