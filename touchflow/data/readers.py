"""Reading import files: text, JSON lines and CSV rows with their physical lines.

Every problem is collected with its line (``Problems``) and raised together, so
a file with any bad row imports nothing. The readers report how far they got
(``Progress``), so a long import on a terminal can show a bar. A file is read
line by line as its rows are used (``Source``): memory follows the row, not the file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from touchflow.errors import InputError, Problem
from touchflow.ids import quoted as quoted

MAX_PROBLEMS = 50
# Called with (lines read, lines in the file); every PROGRESS_EVERY lines and at the end.
Progress = Callable[[int, int], None]
PROGRESS_EVERY = 2000


class Problems:
    """Collects the problems of one file, then raises them all at once. Only the first
    MAX_PROBLEMS are kept (only they are shown); the rest are counted."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.items: list[Problem] = []
        self.count = 0

    def add(self, line: int | None, message: str) -> None:
        self.count += 1
        if len(self.items) <= MAX_PROBLEMS:  # one more than shown: raise_problems counts it
            self.items.append(Problem(path=self.display, line=line, message=message))

    def raise_if_any(self) -> None:
        if self.count > len(self.items):
            more = self.count - MAX_PROBLEMS
            shown = [
                *self.items[:MAX_PROBLEMS],
                Problem(path=self.display, line=None, message=f"... and {more} more"),
            ]
            raise InputError(shown)
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
        raise _unreadable(path, exc) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _not_utf8(path, line, exc.reason) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where rows come from: a file, read line by line as they are used (``path``), or
    text already in memory (``text``: a rendered sample file). ``display`` names it in
    problems."""

    display: str
    path: Path | None = None
    text: str | None = None

    def lines(self, *, newline: str | None) -> Generator[str, None, None]:
        """The lines, as ``open(..., newline=newline)`` splits them, without the BOM."""
        if self.text is not None or self.path is None:
            yield from io.StringIO((self.text or "").removeprefix("\ufeff"), newline=newline)
            return
        try:
            with self.path.open(encoding="utf-8-sig", newline=newline) as file:
                first = True
                for line in file:
                    yield line.removeprefix("\ufeff") if first else line
                    first = False
        except OSError as exc:
            raise _unreadable(self.path, exc) from None
        except UnicodeDecodeError:
            raise _undecodable(self.path) from None

    def line_count(self) -> int:
        """Lines in the source (a last line without a line end counts too)."""
        if self.text is not None or self.path is None:
            text = self.text or ""
            return text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        count, last = 0, b"\n"
        try:
            with self.path.open("rb") as file:
                while block := file.read(1 << 20):
                    count, last = count + block.count(b"\n"), block[-1:]
        except OSError as exc:
            raise _unreadable(self.path, exc) from None
        return count + (0 if last == b"\n" else 1)


def _unreadable(path: Path, exc: OSError) -> InputError:
    return InputError([Problem(path=str(path), line=None, message=f"cannot read: {exc}")])


def _not_utf8(path: Path, line: int, reason: str) -> InputError:
    message = f"not UTF-8 text ({reason}); save the file as UTF-8"
    return InputError([Problem(path=str(path), line=line, message=message)])


def _undecodable(path: Path) -> InputError:
    """The first line that is not UTF-8 (a character never spans a line end)."""
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return _not_utf8(path, number, exc.reason)
    return _not_utf8(path, number, "invalid data")  # not reached: decoding failed somewhere


def _ticker(source: Source, progress: Progress | None) -> Callable[[int], None]:
    """``tick(line)``: tells ``progress`` every PROGRESS_EVERY lines (a call per row
    would cost more than reading the row)."""
    if progress is None:
        return lambda line: None
    total = source.line_count()

    def tick(line: int) -> None:
        if line % PROGRESS_EVERY == 0 or line >= total:
            progress(min(line, total), total)

    progress(0, total)
    return tick


def _lines(source: Source) -> Iterator[tuple[int, str]]:
    # Only \n, \r and \r\n end a line: str.splitlines would also split on U+2028
    # and friends, which JSON strings may hold, and the line numbers would drift.
    for number, line in enumerate(source.lines(newline=None), 1):
        yield number, line.rstrip("\n")


def jsonl_rows(
    source: Source | str, problems: Problems, what: str, progress: Progress | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, object)`` of each non-blank line; other lines become problems."""
    if isinstance(source, str):
        source = Source(display=problems.display, text=source)
    tick = _ticker(source, progress)
    for number, line in _lines(source):
        tick(number)
        if not line.strip():
            continue
        try:
            value = strict_json(line)
        except json.JSONDecodeError as exc:
            problems.add(number, f"invalid JSON at column {exc.colno}: {exc.msg}")
            continue
        except ValueError as exc:  # NaN or Infinity
            problems.add(number, f"invalid JSON: {exc}")
            continue
        if _LONE_SURROGATE.search(line) and not _encodable(value):
            # "\ud800" is valid JSON but no character: it could not be stored.
            problems.add(number, "a \\u escape names half a surrogate pair, which is no character")
            continue
        if _NUL in line and has_nul(value):
            problems.add(number, NUL_PROBLEM)
            continue
        if not isinstance(value, dict):
            problems.add(number, f"expected one JSON object {{...}} per {what}, not {kind(value)}")
            continue
        yield number, value


def strict_json(text: str) -> Any:
    """``json.loads``, but ``NaN``, ``Infinity`` and ``-Infinity`` (Python's extensions,
    not JSON, and no number PostgreSQL's jsonb holds) raise ``ValueError`` naming them."""
    return json.loads(text, parse_constant=_not_a_number)


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# A NUL character is valid JSON ("\u0000") but no store keeps it: PostgreSQL's text
# and jsonb refuse it. Refused where it comes in, so both stores take the same input.
NUL_PROBLEM = "a NUL character (\\u0000) is in the text; no store keeps one"
_NUL = "\\u0000"  # how a JSON line can hold one: json.loads refuses a raw control byte


def has_nul(value: Any) -> bool:
    """Whether a NUL character is in any string of a JSON value (keys too)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


# A \uD800-\uDFFF escape; only such a line can decode to an unpaired surrogate.
_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def delimiter(source: Source | str) -> str:
    """';' if the header line has a ';' and no ',' (as spreadsheets save CSV in many
    European locales, where ',' is the decimal mark), else ','."""
    if isinstance(source, str):
        source = Source(display="", text=source)
    lines = source.lines(newline=None)
    try:
        for line in lines:
            if line.strip():
                return ";" if ";" in line and "," not in line else ","
    finally:
        lines.close()  # closes the file
    return ","


def csv_rows(
    source: Source | str, problems: Problems, progress: Progress | None = None
) -> Iterator[tuple[int, dict[str, str | None]]]:
    """``(line, {column: cell or None})`` of each row after the header row."""
    if isinstance(source, str):
        source = Source(display=problems.display, text=source)
    sep = delimiter(source)
    reader = csv.reader(source.lines(newline=""), delimiter=sep)
    tick = _ticker(source, progress)
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
            elif any("\x00" in cell for cell in record):
                problems.add(start, NUL_PROBLEM)
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
    before = problems.count
    header = [name.strip() for name in record]
    for index, name in enumerate(header, 1):
        if not name:
            problems.add(line, f"column {index} of the header row has no name")
        elif header.index(name) != index - 1:
            problems.add(line, f"column {quoted(name)} appears twice in the header row")
    if "id" not in header:
        problems.add(line, 'the header row has no "id" column; start with e.g. id,email,timezone')
    return header if problems.count == before else None
