"""Small helpers for reading user YAML into values while collecting located problems."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from touchflow.errors import Problem, shown
from touchflow.yamlload import LineDict, LineList

T = TypeVar("T")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` — did you mean "x"?`` or the empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' — did you mean "{close[0]}"?' if close else ""


class Collector:
    """Gathers every problem of a file so the user sees them all at once."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.problems: list[Problem] = []

    def add(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(path=self.path, line=line, message=message))

    def check_keys(
        self, mapping: LineDict, allowed: Iterable[str], *, where: str, required: Iterable[str] = ()
    ) -> None:
        allowed_list = list(allowed)
        hinted: set[str] = set()
        for key in mapping:
            if key not in allowed_list:
                hint = did_you_mean(key, allowed_list)
                hinted.update(difflib.get_close_matches(key, allowed_list, n=1, cutoff=0.6))
                self.add(
                    mapping.line_of(key),
                    f"unknown key {key!r} in {where}{hint} (allowed: {', '.join(allowed_list)})",
                )
        for key in required:
            # A misspelt key already got a "did you mean" line: do not report it twice.
            if key not in mapping and key not in hinted:
                self.add(mapping.line, f"{where} is missing required key {key!r}")

    def mapping(self, value: Any, line: int, *, what: str) -> LineDict | None:
        if isinstance(value, LineDict):
            return value
        self.add(line, f"{what} must be a mapping (key: value lines), not {described(value)}")
        return None

    def text(self, value: Any, line: int, *, what: str) -> str | None:
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.add(line, f"{what} must be non-empty text, not {described(value)}")
        return None

    def text_list(self, value: Any, line: int, *, what: str) -> list[str]:
        """A string or a list of strings."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            self.add(line, f"{what} must be text or a list of text, not {described(value)}")
            return []
        return [i.strip() for i in items]

    def parse(self, parser: Callable[[Any], T], value: Any, line: int, *, what: str) -> T | None:
        try:
            return parser(value)
        except ValueError as exc:
            self.add(line, f"{what}: {exc}")
            return None


def line_of(container: Any, key: str | int, default: int) -> int:
    if isinstance(container, LineDict) and isinstance(key, str):
        return container.line_of(key)
    if isinstance(container, LineList) and isinstance(key, int):
        return container.line_of(key)
    return default


def described(value: Any) -> str:
    """A YAML value in an ops person's words: "empty", "the number 5", "a list"."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return shown(value)
