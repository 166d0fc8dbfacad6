"""Reading import files: text, JSON lines and CSV rows with their physical lines.

Every problem is collected with its line (``Problems``) and raised together, so
a file with any bad row imports nothing. The readers report how far they got
(``Progress``), so a long import on a terminal can show a bar.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from touchflow.errors import InputError, Problem
from touchflow.ids import quoted as quoted

MAX_PROBLEMS = 50
# Called with (lines read, lines in the file); every PROGRESS_EVERY lines and at the end.
Progress = Callable[[int, int], None]
PROGRESS_EVERY = 2000


class Problems:
    """Collects the problems of one file, then raises them all at once."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.items: list[Problem] = []

    def add(self, line: int | None, message: str) -> None:
        self.items.append(Problem(path=self.display, line=line, message=message))

    def raise_if_any(self) -> None:
        raise_problems(self.items)


def raise_problems(problems: list[Problem]) -> None:
    """Raise ``InputError`` for ``problems`` (if any), capped so a bad file stays readable."""
    if not problems:
        return
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        shown.append(Problem(path=shown[0].path, line=None, message=f"... and {more} more"))
    raise InputError(shown)


def kind(value: Any) -> str:
    """What a JSON value is, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    return "a string"


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        problem = Problem(path=str(path), line=None, message=f"cannot read: {exc}")
        raise InputError([problem]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text ({exc.reason}); save the file as UTF-8"
        raise InputError([Problem(path=str(path), line=line, message=message)]) from None


def _ticker(text: str, progress: Progress | None) -> Callable[[int], None]:
    """``tick(line)``: tells ``progress`` every PROGRESS_EVERY lines (a call per row
    would cost more than reading the row)."""
    if progress is None:
        return lambda line: None
    total = text.count("\n") + (0 if text.endswith("\n") or not text else 1)

    def tick(line: int) -> None:
        if line % PROGRESS_EVERY == 0 or line >= total:
            progress(min(line, total), total)

    progress(0, total)
    return tick


def _lines(text: str) -> Iterator[tuple[int, str]]:
    # Only \n, \r and \r\n end a line: str.splitlines would also split on U+2028
    # and friends, which JSON strings may hold, and the line numbers would drift.
    for number, line in enumerate(io.StringIO(text.removeprefix("\ufeff"), newline=None), 1):
        yield number, line.rstrip("\n")


def jsonl_rows(
    text: str, problems: Problems, what: str, progress: Progress | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, object)`` of each non-blank line; other lines become problems."""
    tick = _ticker(text, progress)
    for number, line in _lines(text):
        tick(number)
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.add(number, f"invalid JSON at column {exc.colno}: {exc.msg}")
            continue
        if _LONE_SURROGATE.search(line) and not _encodable(value):
            # "\ud800" is valid JSON but no character: it could not be stored.
            problems.add(number, "a \\u escape names half a surrogate pair, which is no character")
            continue
        if not isinstance(value, dict):
            problems.add(number, f"expected one JSON object {{...}} per {what}, not {kind(value)}")
            continue
        yield number, value


# A \uD800-\uDFFF escape; only such a line can decode to an unpaired surrogate.
_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def delimiter(text: str) -> str:
    """';' if the header line has a ';' and no ',' (as spreadsheets save CSV in many
    European locales, where ',' is the decimal mark), else ','."""
    for line in io.StringIO(text.removeprefix("\ufeff"), newline=None):
        if line.strip():
            return ";" if ";" in line and "," not in line else ","
    return ","


def csv_rows(
    text: str, problems: Problems, progress: Progress | None = None
) -> Iterator[tuple[int, dict[str, str | None]]]:
    """``(line, {column: cell or None})`` of each row after the header row."""
    sep = delimiter(text)
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=sep)
    tick = _ticker(text, progress)
    header: list[str] | None = None
    end = 0
    try:
        for record in reader:
            # line_num is the last physical line read, so a quoted cell spanning
            # lines puts the next record's start after it.
            start, end = end + 1, reader.line_num
            tick(end)
            if not record:
                continue
            if header is None:
                header = _header(record, start, problems)
                if header is None:
                    return  # every row would repeat the header's problem
            elif len(record) != len(header):
                problems.add(
                    start,
                    f"row has {len(record)} cells but the header has {len(header)}; "
                    f"quote cells that contain {'semicolons' if sep == ';' else 'commas'}",
                )
            else:
                yield (
                    start,
                    {k: (v if v.strip() else None) for k, v in zip(header, record, strict=True)},
                )
    except csv.Error as exc:
        problems.add(reader.line_num, f"invalid CSV: {exc}")


def _header(record: list[str], line: int, problems: Problems) -> list[str] | None:
    before = len(problems.items)
    header = [name.strip() for name in record]
    for index, name in enumerate(header, 1):
        if not name:
            problems.add(line, f"column {index} of the header row has no name")
        elif header.index(name) != index - 1:
            problems.add(line, f"column {quoted(name)} appears twice in the header row")
    if "id" not in header:
        problems.add(line, 'the header row has no "id" column; start with e.g. id,email,timezone')
    return header if len(problems.items) == before else None
