"""The one exception tree of touchflow.

Every error a user can cause is a ``TouchflowError``; subclasses carry their
context (file, line, rule id) and build their own message, so the CLI only maps
them to exit codes and never prints a traceback for a user mistake.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class _Short(reprlib.Repr):
    # YAML gives LineDict/LineList, which reprlib would otherwise repr() whole.
    def repr_LineDict(self, x: dict[object, object], level: int) -> str:
        return self.repr_dict(x, level)

    def repr_LineList(self, x: list[object], level: int) -> str:
        return self.repr_list(x, level)


_SHORT = _Short()
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxdict = 4
_SHORT.maxlevel = 2
_SHOWN_CHARS = 120


def shown(value: object) -> str:
    """``repr(value)``, cut short: a message quotes what the user wrote, never all of it."""
    text = _SHORT.repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


class TouchflowError(Exception):
    """Root of every error touchflow raises on purpose."""

    exit_code = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong in a user's file: where, and what would be right."""

    path: Path | str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else f"{self.path}"
        return f"{where}: {self.message}"


class UserError(TouchflowError):
    """A mistake in something the user wrote or passed: exit code 2."""

    exit_code = 2


class ProblemsError(UserError):
    """One or more located problems (rules, templates, config, input rows)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(ProblemsError):
    """touchflow.yaml is wrong."""


class RuleError(ProblemsError):
    """A rules file is wrong."""


class TemplateError(ProblemsError):
    """A message template is wrong."""


class InputError(ProblemsError):
    """An import file or a command-line value is wrong; nothing was imported."""


class RenderError(TouchflowError):
    """A template failed while rendering one touchpoint (held, not sent)."""

    def __init__(
        self, template: str, message: str, *, path: str | None = None, line: int | None = None
    ) -> None:
        self.template = template
        self.path = path
        self.line = line
        if path and line:
            where = f"{path}:{line}: "
        else:
            where = f"{path or template}: "
        super().__init__(f"{where}{message}")


class HeaderInjectionError(TouchflowError):
    """A value bound for a header or envelope address holds CR, LF or NUL."""


class StoreError(TouchflowError):
    """The store could not be opened or written."""
