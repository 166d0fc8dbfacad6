"""What a YAML syntax error means in the words of someone editing a rules file.

PyYAML reports where its parser gave up ("mapping values are not allowed here"),
which is often a line after the mistake and never says how to fix it. The common
mistakes (a tab, a bad indent, an unclosed quote or bracket, no space after
':', a value holding ': ') are recognised here and put as
``<what is wrong> — hint: <how to fix it>`` at the line of the mistake.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import yaml

# `key:value` — a key, a colon and no space: YAML reads the whole as one text.
_NO_SPACE = re.compile(r"^\s*(?:-\s+)?([A-Za-z_][\w.-]*):(?=[^\s/])")
_KEY_AND_VALUE = re.compile(r"^(\s*(?:-\s+)?[A-Za-z_][\w.-]*:\s+)(\S.*?)\s*$")
_CLOSERS = {"sequence": ("[", "]", "list"), "mapping": ("{", "}", "mapping")}


def explain(exc: yaml.MarkedYAMLError, lines: Sequence[str]) -> tuple[int | None, str]:
    """The line of the mistake (1-based) and what to say about it."""
    problem, context = exc.problem or "", exc.context or ""
    at = exc.problem_mark.line + 1 if exc.problem_mark else None
    opened = exc.context_mark.line + 1 if exc.context_mark else None
    if "'\\t'" in problem:
        return at, (
            "a tab character where YAML expects indentation or a value — "
            "hint: YAML does not allow tabs for indentation: use spaces"
        )
    if "quoted scalar" in context and opened is not None:
        return opened, (
            "the quote that opens on this line is never closed — hint: end the value with "
            'the same quote on this line (inside "...", write a quote as \\"; inside \'...\', '
            "as '')"
        )
    for kind, (opener, closer, noun) in _CLOSERS.items():
        if f"flow {kind}" in context and opened is not None:
            return opened, (
                f"the {opener} on this line is never closed — hint: close the {noun} with "
                f"{closer} on the same line, or put the whole value in quotes if the {opener} "
                "is meant as text"
            )
    if "could not find expected ':'" in problem and opened is not None:
        return opened, _missing_colon(lines, opened)
    if "mapping values are not allowed" in problem and at is not None:
        return _mapping_value(lines, at)
    if "expected <block end>" in problem and at is not None:
        return at, (
            "this line is not lined up with the lines above it — hint: indent the keys "
            "of one mapping (and the '-' of one list) to the same column, with spaces"
        )
    return _plain(exc, at, opened)


def _missing_colon(lines: Sequence[str], line: int) -> str:
    if _NO_SPACE.match(_line(lines, line)):
        return _no_space_message()
    return (
        "this line is neither `key: value` nor a list item — hint: write `key: value` "
        "(a space after the ':') or `- item`, indented like the lines around it"
    )


def _mapping_value(lines: Sequence[str], line: int) -> tuple[int, str]:
    text = _line(lines, line)
    # "description: Welcome: the first mail": the second ': ' starts another key.
    value = _KEY_AND_VALUE.match(text)
    if value and re.search(r":(\s|$)", value.group(2)):
        key, quoted = value.group(1).strip(), value.group(2).replace('"', '\\"')
        return line, (
            f"the value {value.group(2)!r} holds ': ', which YAML reads as the start of "
            f'another key — hint: put the value in quotes: {key} "{quoted}"'
        )
    previous = _previous_content(lines, line)
    if previous is not None and _NO_SPACE.match(_line(lines, previous)):
        return previous, _no_space_message()
    return line, (
        "this line is indented deeper than the line above, which already has its value — "
        "hint: line its key up with the keys above it (spaces only), or give the key "
        "above no value on its own line if this belongs under it"
    )


def _no_space_message() -> str:
    return "no space after ':' — hint: write `key: value`, with a space after the ':'"


def _previous_content(lines: Sequence[str], line: int) -> int | None:
    for number in range(line - 1, 0, -1):
        stripped = _line(lines, number).strip()
        if stripped and not stripped.startswith("#"):
            return number
    return None


def _line(lines: Sequence[str], number: int) -> str:
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _plain(exc: yaml.MarkedYAMLError, at: int | None, opened: int | None) -> tuple[int | None, str]:
    """PyYAML's own words, for a mistake not recognised above."""
    line = at if at is not None else opened
    what = exc.problem or str(exc)
    if exc.context and "duplicate" not in what:
        what = f"{exc.context}, {what}"
    return line, what
