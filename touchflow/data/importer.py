"""Parse and validate customer, event and suppression files (pure: no store).

Every problem in a file is collected with its physical line and raised together
as one ``InputError``, so a file with any bad row imports nothing. Each parser
has a ``*_text`` twin that takes a display name and the text, so rendered sample
files report the lines of the file the user wrote.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path, PurePath
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from touchflow import years
from touchflow.checks import did_you_mean
from touchflow.data.readers import (
    Problems,
    Progress,
    csv_rows,
    jsonl_rows,
    kind,
    quoted,
    raise_problems,
    read_text,
)
from touchflow.errors import InputError, Problem
from touchflow.ids import id_problem, shown
from touchflow.models import (
    CUSTOMER_CORE_FIELDS,
    Customer,
    Event,
    FieldType,
    Suppression,
    SuppressionScope,
)

CUSTOMER_FORMATS = (".csv", ".jsonl")
EVENT_KEYS = ("id", "type", "customer", "at", "data")
SUPPRESSION_KEYS = ("email", "scope", "reason")

_T = TypeVar("_T")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT = re.compile(r"[+-]?\d+")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_LOCALE = re.compile(r"([A-Za-z]{2,3})(?:[_-]([A-Za-z]{4}))?(?:[_-]([A-Za-z]{2}|\d{3}))?")
# Characters that would let an address smuggle a second recipient or a header.
_EMAIL_FORBIDDEN = re.compile(r"[\s,<>\x00-\x1f\x7f]")
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_SCOPES = tuple(scope.value for scope in SuppressionScope)
_OFFSET_HINT = "write e.g. 2026-05-01T10:00:00+02:00 or 2026-05-01T08:00:00Z"


class _Invalid(ValueError):
    """One value is wrong; the message says what is wrong and what would be right."""


class _Row:
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
        except _Invalid as exc:
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


# --- single values ------------------------------------------------------------


def _text(name: str, value: Any) -> str | None:
    """A core text value, stripped; empty means absent. JSON numbers are taken as text."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be a string, not {kind(value)}")
    return value.strip() or None


def _required(name: str, value: Any, what: str) -> str:
    text = _text(name, value)
    if text is None:
        raise _Invalid(f'missing {name}: every {what} needs a non-empty "{name}"')
    return text


def _identifier(name: str, value: Any, what: str) -> str:
    """A required id (customer, event, event type): see ``touchflow.ids`` for its alphabet."""
    text = _required(name, value, what)
    problem = id_problem(text)
    if problem is not None:
        raise _Invalid(f"{name} {shown(text)} {problem}")
    return text


def _email(name: str, text: str) -> str:
    local, _, domain = text.partition("@")
    if text.count("@") != 1 or not local or not domain or _EMAIL_FORBIDDEN.search(text):
        raise _Invalid(
            f"{name} {quoted(text)} is not an e-mail address "
            '(like name@example.com: one "@", no spaces, commas or angle brackets)'
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
        raise _Invalid(problem)
    return text


def _country(name: str, text: str) -> str:
    if not _COUNTRY.fullmatch(text):
        raise _Invalid(f'{name} {quoted(text)} is not a two-letter country code (like "DE")')
    return text.upper()


def _locale(name: str, text: str) -> str:
    match = _LOCALE.fullmatch(text)
    if match is None:
        raise _Invalid(f'{name} {quoted(text)} is not a locale like "en", "de_DE" or "de-DE"')
    language, script, region = match.groups()
    parts = [language.lower(), script.title() if script else "", region.upper() if region else ""]
    return "_".join(part for part in parts if part)


def _date(name: str, text: str) -> date:
    try:
        value = date.fromisoformat(text) if _DATE.fullmatch(text) else None
    except ValueError:
        value = None
    if value is None:
        raise _Invalid(f"{name} {quoted(text)} is not a valid date (YYYY-MM-DD)")
    _in_range(name, text, years.date_problem(value))
    return value


def _in_range(name: str, text: str, problem: str | None) -> None:
    # Planning a date near the ends of Python's calendar overflows: see touchflow.years.
    if problem is not None:
        raise _Invalid(f"{name} {quoted(text)} {problem}")


def _aware(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _Invalid(
            f"{name} {quoted(text)} is not a date-time (ISO 8601, e.g. 2026-05-01T10:00:00+02:00)"
        ) from None
    if value.utcoffset() is None:
        raise _Invalid(f"{name} {quoted(text)} has no UTC offset; {_OFFSET_HINT}")
    _in_range(name, text, years.instant_problem(value))
    return value


def _bool(name: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOLS:
        return _BOOLS[value.strip().lower()]
    raise _Invalid(f"{name} {quoted(value)} is not true or false (also yes/no, 1/0)")


_CORE_TEXT: dict[str, Callable[[str, str], Any]] = {
    "email": _email,
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


def _convert(name: str, value: Any, ftype: FieldType | None) -> Any:
    """Convert a declared attribute or data field; undeclared values pass unchanged."""
    if value is None or ftype is None or ftype is FieldType.ANY:
        return value
    if ftype is FieldType.BOOL:
        return _bool(name, value)
    if ftype is FieldType.DATETIME:
        if not isinstance(value, str):
            raise _Invalid(f"{name} must be a date-time string with a UTC offset; {_OFFSET_HINT}")
        return _aware(name, value.strip())
    if ftype is FieldType.DATE and isinstance(value, str):
        return _date(name, value.strip())
    result = _convert_plain(value, ftype)
    if result is None:
        raise _Invalid(f"{name} {quoted(value)} is not {_EXPECTED[ftype]}")
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


# --- reading ------------------------------------------------------------------


# --- customers ----------------------------------------------------------------


def parse_customers(
    path: Path, *, attribute_types: Mapping[str, FieldType], progress: Progress | None = None
) -> list[Customer]:
    """Read customers from a ``.csv`` or ``.jsonl`` file; raise ``InputError`` on any problem.

    A ``.csv`` whose header row has ';' and no ',' is read with ';' between cells."""
    _customer_format(str(path))
    text = read_text(path)
    return parse_customers_text(
        text, display=str(path), attribute_types=attribute_types, progress=progress
    )


def parse_customers_text(
    text: str,
    *,
    display: str,
    attribute_types: Mapping[str, FieldType],
    progress: Progress | None = None,
) -> list[Customer]:
    """Like ``parse_customers``; the format comes from ``display``'s extension."""
    problems = Problems(display)
    rows: Iterator[tuple[int, Mapping[str, Any]]]
    if _customer_format(display) == ".csv":
        rows = csv_rows(text, problems, progress)
    else:
        rows = jsonl_rows(text, problems, "customer", progress)
    customers: list[Customer] = []
    first_line: dict[str, int] = {}
    for line, raw in rows:
        row = _Row()
        customer = _customer(raw, row, attribute_types)
        for message in row.errors:
            problems.add(line, message)
        customer_id = customer.id if customer else _id_or_none(raw.get("id"))
        if customer_id is not None and customer_id in first_line:
            first = first_line[customer_id]
            problems.add(line, f"id {quoted(customer_id)} appears twice (lines {first} and {line})")
        elif customer_id is not None:
            first_line[customer_id] = line
            customers.extend([customer] if customer else [])
    problems.raise_if_any()
    return customers


def _id_or_none(value: Any) -> str | None:
    try:
        return _text("id", value)
    except _Invalid:
        return None


def _customer_format(display: str) -> str:
    suffix = PurePath(display).suffix.lower()
    if suffix not in CUSTOMER_FORMATS:
        message = (
            f"unsupported file type {quoted(suffix)}; customers can be read from .csv or .jsonl"
        )
        raise InputError([Problem(path=display, line=None, message=message)])
    return suffix


def _customer(
    raw: Mapping[str, Any], row: _Row, attribute_types: Mapping[str, FieldType]
) -> Customer | None:
    core: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "id":
            continue  # checked below, once
        if key == "consent_marketing":
            core[key] = bool(row.check(_bool, key, value))
        elif key in CUSTOMER_CORE_FIELDS:
            text = row.check(_text, key, value)
            parse = _CORE_TEXT.get(key)
            core[key] = row.check(parse, key, text) if parse and text is not None else text
        else:
            attributes[key] = row.check(_convert, key, value, attribute_types.get(key))
    customer_id = row.check(_identifier, "id", raw.get("id"), "customer")
    if row.errors or customer_id is None:
        return None
    return Customer(id=customer_id, **core, attributes=attributes)


# --- events -------------------------------------------------------------------


def parse_events(path: Path, *, data_types: Mapping[str, Mapping[str, FieldType]]) -> list[Event]:
    """Read events from a ``.jsonl`` file; raise ``InputError`` on any problem."""
    return [event for _, event in read_events(path, data_types=data_types)]


def read_events(
    path: Path,
    *,
    data_types: Mapping[str, Mapping[str, FieldType]],
    progress: Progress | None = None,
) -> list[tuple[int, Event]]:
    """``(line, event)`` from a ``.jsonl`` file (an identical repeat once, at its first line)."""
    if path.suffix.lower() != ".jsonl":
        message = f"unsupported file type {quoted(path.suffix)}; events are read from .jsonl"
        raise InputError([Problem(path=str(path), line=None, message=message)])
    text = read_text(path)
    return lined_events_text(text, display=str(path), data_types=data_types, progress=progress)


def parse_events_text(
    text: str, *, display: str, data_types: Mapping[str, Mapping[str, FieldType]]
) -> list[Event]:
    return [event for _, event in lined_events_text(text, display=display, data_types=data_types)]


def lined_events_text(
    text: str,
    *,
    display: str,
    data_types: Mapping[str, Mapping[str, FieldType]],
    progress: Progress | None = None,
) -> list[tuple[int, Event]]:
    problems = Problems(display)
    events: dict[str, tuple[int, Event]] = {}
    for line, raw in jsonl_rows(text, problems, "event", progress):
        row = _Row()
        event = _event(raw, row, data_types)
        for message in row.errors:
            problems.add(line, message)
        if event is None:
            continue
        if event.id in events and events[event.id][1] != event:
            first = events[event.id][0]
            problems.add(
                line,
                f"id {quoted(event.id)} was used for a different event on line {first}; "
                "event ids must be unique",
            )
        # An identical repeat (overlapping exports) is harmless: keep the first.
        events.setdefault(event.id, (line, event))
    problems.raise_if_any()
    return list(events.values())


def _event(
    raw: Mapping[str, Any], row: _Row, data_types: Mapping[str, Mapping[str, FieldType]]
) -> Event | None:
    for key in raw:
        if key not in EVENT_KEYS:
            row.add(key, f"unknown key {quoted(key)}; an event has {', '.join(EVENT_KEYS)}")
    event_id = row.check(_identifier, "id", raw.get("id"), "event")
    type_ = row.check(_identifier, "type", raw.get("type"), "event")
    if type_ is not None and data_types and type_ not in data_types:
        row.add("type", _undeclared_type(type_, data_types))
    customer = row.check(_identifier, "customer", raw.get("customer"), "event")
    at_text = row.check(_required, "at", raw.get("at"), "event")
    at = row.check(_aware, "at", at_text) if at_text is not None else None
    data = _data(raw.get("data"), data_types.get(type_ or "", {}), row)
    if row.errors or not (event_id and type_ and customer and at) or data is None:
        return None
    return Event(id=event_id, type=type_, customer_id=customer, at=at.astimezone(UTC), data=data)


def _data(raw: Any, declared: Mapping[str, FieldType], row: _Row) -> dict[str, Any] | None:
    """Event data with declared fields converted; None (and ``row.errors``) if any is wrong."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        row.add("data", f"data must be a JSON object {{...}}, not {kind(raw)}")
        return None
    before = len(row.errors)
    data = {key: row.check(_convert, f"data.{key}", v, declared.get(key)) for key, v in raw.items()}
    return data if len(row.errors) == before else None


def _undeclared_type(type_: str, declared: Mapping[str, Any]) -> str:
    # A misspelt type would be stored and then trigger nothing, silently.
    hint = did_you_mean(type_, declared)
    return (
        f"event type {quoted(type_)} is not declared under events: in touchflow.yaml{hint} "
        f"(declared: {', '.join(sorted(declared))})"
    )


def make_event(
    type_: str,
    *,
    customer: str,
    at: str | None,
    data_json: str | None,
    event_id: str | None,
    data_types: Mapping[str, Mapping[str, FieldType]],
    now: datetime,
) -> Event:
    """One event from command-line values; the default id makes a repeat idempotent."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    problems: list[Problem] = []

    def check(source: str, parse: Callable[..., _T], *args: Any) -> _T | None:
        try:
            return parse(*args)
        except _Invalid as exc:
            problems.append(Problem(path=source, line=None, message=str(exc)))
            return None

    type_text = check("TYPE", _identifier, "type", type_, "event")
    if type_text is not None and data_types and type_text not in data_types:
        problems.append(
            Problem(path="TYPE", line=None, message=_undeclared_type(type_text, data_types))
        )
    customer_id = check("--customer", _identifier, "customer", customer, "event")
    if event_id is not None:
        event_id = check("--id", _identifier, "id", event_id, "event")
    when = now if at is None else check("--at", _aware, "at", at.strip())
    raw_data = check("--data", _json_object, data_json)
    data_row = _Row()
    data = _data(raw_data, data_types.get(type_text or "", {}), data_row)
    problems.extend(Problem(path="--data", line=None, message=m) for m in data_row.errors)
    raise_problems(problems)
    assert type_text and customer_id and when is not None and data is not None
    when = when.astimezone(UTC)
    if event_id is None:
        key = {"type": type_text, "customer": customer_id, "at": when.isoformat(), "data": raw_data}
        canonical = json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        event_id = "cli-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return Event(id=event_id, type=type_text, customer_id=customer_id, at=when, data=data)


def _json_object(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"invalid JSON at column {exc.colno}: {exc.msg}") from None
    if not isinstance(value, dict):
        raise _Invalid(f'must be a JSON object like {{"code": "X1"}}, not {kind(value)}')
    return value


# --- JSON values (the HTTP interface) ---------------------------------------------


def customer_from_json(
    raw: Any, *, attribute_types: Mapping[str, FieldType]
) -> tuple[Customer | None, list[FieldProblem]]:
    """One customer from a JSON value, checked like a line of a customers .jsonl file."""
    if not isinstance(raw, dict):
        message = f"expected a JSON object {{...}} with the customer's fields, not {kind(raw)}"
        return None, [FieldProblem(field=None, message=message)]
    row = _Row()
    customer = _customer(raw, row, attribute_types)
    return customer, row.problems()


def events_from_json(
    items: Sequence[Any], *, data_types: Mapping[str, Mapping[str, FieldType]]
) -> tuple[list[tuple[int, Event]], list[FieldProblem]]:
    """``(index, event)`` from JSON values, checked like lines of an events .jsonl file.

    Problems carry the item's index. An identical repeat is kept once (at its
    first index); the same id for a different event is a problem.
    """
    events: dict[str, tuple[int, Event]] = {}
    problems: list[FieldProblem] = []
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            message = f"expected one JSON object {{...}} per event, not {kind(raw)}"
            problems.append(FieldProblem(field=None, message=message, index=index))
            continue
        row = _Row()
        event = _event(raw, row, data_types)
        problems.extend(row.problems(index))
        if event is None:
            continue
        if event.id in events and events[event.id][1] != event:
            message = (
                f"id {quoted(event.id)} was used for a different event at index "
                f"{events[event.id][0]}; event ids must be unique"
            )
            problems.append(FieldProblem(field="id", message=message, index=index))
        events.setdefault(event.id, (index, event))
    return list(events.values()), problems


# --- suppressions -------------------------------------------------------------


def parse_suppression_email(text: str, *, source: str = "email") -> str:
    """A validated address, stripped and lower-cased as suppressions store it."""
    try:
        return _email("email", _required("email", text, "suppression")).lower()
    except _Invalid as exc:
        raise InputError([Problem(path=source, line=None, message=str(exc))]) from None


def parse_suppressions_text(text: str, *, display: str) -> list[Suppression]:
    """Suppressions from JSON lines ``{"email", "scope", "reason"}``."""
    problems = Problems(display)
    result: list[Suppression] = []
    scopes = " or ".join(quoted(scope) for scope in _SCOPES)
    for line, raw in jsonl_rows(text, problems, "suppression"):
        row = _Row()
        for key in raw:
            if key not in SUPPRESSION_KEYS:
                row.add(key, f"unknown key {quoted(key)}; a suppression has email, scope, reason")
        email = row.check(_required, "email", raw.get("email"), "suppression")
        email = row.check(_email, "email", email) if email else None
        scope = raw.get("scope")
        if not isinstance(scope, str) or scope not in _SCOPES:
            row.add("scope", f"scope {quoted(scope)} must be {scopes}")
            scope = None
        reason = row.check(_text, "reason", raw.get("reason"))
        for message in row.errors:
            problems.add(line, message)
        if not row.errors and email and scope:
            result.append(
                Suppression(email=email.lower(), scope=SuppressionScope(scope), reason=reason)
            )
    problems.raise_if_any()
    return result
