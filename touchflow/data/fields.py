"""Check and convert the single values an import file holds: ids, e-mails, time zones,
countries, locales, dates and the declared types of attributes and event data.

A parser raises ``InvalidValue`` whose message says what is wrong and what would be
right; a ``Row`` collects them, so every field of a row is checked even after one failed.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from touchflow import years
from touchflow.data.readers import kind, quoted
from touchflow.ids import id_problem, shown
from touchflow.models import FieldType

_T = TypeVar("_T")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT = re.compile(r"[+-]?\d+")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_LOCALE = re.compile(r"([A-Za-z]{2,3})(?:[_-]([A-Za-z]{4}))?(?:[_-]([A-Za-z]{2}|\d{3}))?")
# Characters that would let an address smuggle a second recipient or a header.
_EMAIL_FORBIDDEN = re.compile(r"[\s,<>\x00-\x1f\x7f]")
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_OFFSET_HINT = "write e.g. 2026-05-01T10:00:00+02:00 or 2026-05-01T08:00:00Z"


class InvalidValue(ValueError):
    """One value is wrong; the message says what is wrong and what would be right."""


class Row:
    """The messages of one row: each field is checked even after another failed."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.fields: list[str | None] = []  # the field each message is about, if one

    def add(self, field: str | None, message: str) -> None:
        self.errors.append(message)
        self.fields.append(field)

    def check(self, parse: Callable[..., _T], *args: Any) -> _T | None:
        try:
            return parse(*args)
        except InvalidValue as exc:
            # Every parser takes the field's name first.
            self.add(args[0] if args and isinstance(args[0], str) else None, str(exc))
            return None

    def problems(self, index: int | None = None) -> list[FieldProblem]:
        return [
            FieldProblem(field=f, message=m, index=index)
            for f, m in zip(self.fields, self.errors, strict=True)
        ]


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldProblem:
    """One problem of a JSON value (an HTTP request): which field, which batch item."""

    field: str | None
    message: str
    index: int | None = None


def text_value(name: str, value: Any) -> str | None:
    """A core text value, stripped; empty means absent. JSON numbers are taken as text."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InvalidValue(f"{name} must be a string, not {kind(value)}")
    return value.strip() or None


def required_text(name: str, value: Any, what: str) -> str:
    text = text_value(name, value)
    if text is None:
        raise InvalidValue(f'missing {name}: every {what} needs a non-empty "{name}"')
    return text


def identifier(name: str, value: Any, what: str) -> str:
    """A required id (customer, event, event type): see ``touchflow.ids`` for its alphabet."""
    text = required_text(name, value, what)
    problem = id_problem(text)
    if problem is not None:
        raise InvalidValue(f"{name} {shown(text)} {problem}")
    return text


MAX_EMAIL = 254  # RFC 5321's path limit, less its angle brackets


def email_address(name: str, text: str) -> str:
    local, _, domain = text.partition("@")
    if text.count("@") != 1 or not local or not domain or _EMAIL_FORBIDDEN.search(text):
        raise InvalidValue(
            f"{name} {quoted(text)} is not an e-mail address "
            '(like name@example.com: one "@", no spaces, commas or angle brackets)'
        )
    if len(text) > MAX_EMAIL:
        raise InvalidValue(
            f"{name} is {len(text)} characters long; an e-mail address has at most "
            f"{MAX_EMAIL} (RFC 5321)"
        )
    return text


@functools.cache
def _zones() -> dict[str, str]:
    return {zone.lower(): zone for zone in available_timezones()}


@functools.lru_cache(maxsize=1024)  # a bad file often repeats the same bad zone
def zone_problem(text: str) -> str | None:
    """Why ``text`` is not an IANA time zone (with a suggestion), or None if it is."""
    if text in _zones().values():
        try:
            ZoneInfo(text)
            return None
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    hint = _zones().get(text.lower())
    if hint is None:
        close = difflib.get_close_matches(text, list(_zones().values()), n=1, cutoff=0.6)
        hint = close[0] if close else None
    if hint is not None:
        return f"unknown time zone {quoted(text)} — did you mean {quoted(hint)}?"
    return f'unknown time zone {quoted(text)} (use an IANA name like "Europe/Berlin")'


def _timezone(name: str, text: str) -> str:
    problem = zone_problem(text)
    if problem is not None:
        raise InvalidValue(problem)
    return text


def _country(name: str, text: str) -> str:
    if not _COUNTRY.fullmatch(text):
        raise InvalidValue(f'{name} {quoted(text)} is not a two-letter country code (like "DE")')
    return text.upper()


def _locale(name: str, text: str) -> str:
    match = _LOCALE.fullmatch(text)
    if match is None:
        raise InvalidValue(f'{name} {quoted(text)} is not a locale like "en", "de_DE" or "de-DE"')
    language, script, region = match.groups()
    parts = [language.lower(), script.title() if script else "", region.upper() if region else ""]
    return "_".join(part for part in parts if part)


def _date(name: str, text: str) -> date:
    try:
        value = date.fromisoformat(text) if _DATE.fullmatch(text) else None
    except ValueError:
        value = None
    if value is None:
        raise InvalidValue(f"{name} {quoted(text)} is not a valid date (YYYY-MM-DD)")
    _in_range(name, text, years.date_problem(value))
    return value


def _in_range(name: str, text: str, problem: str | None) -> None:
    # Planning a date near the ends of Python's calendar overflows: see touchflow.years.
    if problem is not None:
        raise InvalidValue(f"{name} {quoted(text)} {problem}")


def aware_datetime(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValue(
            f"{name} {quoted(text)} is not a date-time (ISO 8601, e.g. 2026-05-01T10:00:00+02:00)"
        ) from None
    if value.utcoffset() is None:
        raise InvalidValue(f"{name} {quoted(text)} has no UTC offset; {_OFFSET_HINT}")
    _in_range(name, text, years.instant_problem(value))
    return value


def boolean(name: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOLS:
        return _BOOLS[value.strip().lower()]
    raise InvalidValue(f"{name} {quoted(value)} is not true or false (also yes/no, 1/0)")


# The core customer fields that are more than text, and the parser of each.
CORE_TEXT: Mapping[str, Callable[[str, str], Any]] = {
    "email": email_address,
    "timezone": _timezone,
    "country": _country,
    "locale": _locale,
    "birthday": _date,
    "customer_since": _date,
}

_EXPECTED = {
    FieldType.STRING: "a string",
    FieldType.INT: "a whole number",
    FieldType.FLOAT: "a number",
    FieldType.DATE: "a valid date (YYYY-MM-DD)",
    FieldType.LIST: 'a list of strings (in CSV: "a;b;c")',
}


def convert(name: str, value: Any, ftype: FieldType | None) -> Any:
    """Convert a declared attribute or data field; undeclared values pass unchanged."""
    if value is None or ftype is None or ftype is FieldType.ANY:
        return value
    if ftype is FieldType.BOOL:
        return boolean(name, value)
    if ftype is FieldType.DATETIME:
        if not isinstance(value, str):
            raise InvalidValue(
                f"{name} must be a date-time string with a UTC offset; {_OFFSET_HINT}"
            )
        return aware_datetime(name, value.strip())
    if ftype is FieldType.DATE and isinstance(value, str):
        return _date(name, value.strip())
    result = _convert_plain(value, ftype)
    if result is None:
        raise InvalidValue(f"{name} {quoted(value)} is not {_EXPECTED[ftype]}")
    return result


def _convert_plain(value: Any, ftype: FieldType) -> Any:
    """STRING, INT, FLOAT and LIST from JSON values or text; None when it does not fit."""
    if isinstance(value, bool) or ftype is FieldType.DATE:
        return None
    if ftype is FieldType.STRING:
        return value if isinstance(value, str) else None
    if ftype is FieldType.LIST:
        if isinstance(value, str):
            return [item.strip() for item in value.split(";") if item.strip()]
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
        return list(value) if ok else None
    if isinstance(value, str):
        text = value.strip()
        if ftype is FieldType.INT:
            return int(text) if _INT.fullmatch(text) else None
        try:
            value = float(text)
        except ValueError:
            return None
    if ftype is FieldType.INT:
        return value if isinstance(value, int) else None
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None
