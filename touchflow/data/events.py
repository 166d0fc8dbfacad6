"""Events from a ``.jsonl`` file, from JSON values (the HTTP interface) or from the
command line (``touchflow event``).

Every problem in a file is collected with its physical line and raised together as
one ``InputError``, so a file with any bad line imports nothing. An identical repeat
of an event (overlapping exports) is kept once; the same id for a different event is
a problem.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from touchflow.checks import did_you_mean
from touchflow.data.fields import (
    FieldProblem,
    InvalidValue,
    Row,
    aware_datetime,
    convert,
    identifier,
    required_text,
)
from touchflow.data.readers import (
    NUL_PROBLEM,
    Problems,
    Progress,
    Source,
    has_nul,
    jsonl_rows,
    kind,
    quoted,
    raise_problems,
    strict_json,
)
from touchflow.errors import InputError, Problem
from touchflow.models import Event, FieldType

EVENT_KEYS = ("id", "type", "customer", "at", "data")

_T = TypeVar("_T")


# Events a chunk of a file holds: what an import keeps in memory besides the ids.
CHUNK = 10_000
_FINGERPRINT = (1 << 64) - 1  # the low bits of a mark: the fingerprint


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
    return EventReader(path_source(path), data_types=data_types, progress=progress).all()


def path_source(path: Path) -> Source:
    """``path`` as a source of events; only ``.jsonl`` files are."""
    if path.suffix.lower() != ".jsonl":
        message = f"unsupported file type {quoted(path.suffix)}; events are read from .jsonl"
        raise InputError([Problem(path=str(path), line=None, message=message)])
    return Source(display=str(path), path=path)


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
    source = Source(display=display, text=text)
    return EventReader(source, data_types=data_types, progress=progress).all()


class EventReader:
    """The events of a ``.jsonl`` source in chunks of up to ``CHUNK`` ``(line, event)``,
    read as they are used; an identical repeat is left out (kept at its first line).

    Problems are collected in ``problems`` while reading (an event with one is left
    out of the chunks); ``raise_if_any`` raises them once the source is read. For each
    id only its first line and a 64-bit fingerprint of its event are kept, so a million
    ids fit in memory; two different events with one id are told apart by it (equal
    fingerprints of different events: about one chance in 2**64 per repeated id)."""

    def __init__(
        self,
        source: Source,
        *,
        data_types: Mapping[str, Mapping[str, FieldType]],
        progress: Progress | None = None,
        chunk: int = CHUNK,
    ) -> None:
        self.source = source
        self.problems = Problems(source.display)
        self.ids: dict[str, int] = {}  # id: first line << 64 | fingerprint
        self._types = data_types
        self._progress = progress
        self._chunk = chunk

    def all(self) -> list[tuple[int, Event]]:
        events = [item for chunk in self.chunks() for item in chunk]
        self.raise_if_any()
        return events

    def raise_if_any(self) -> None:
        self.problems.raise_if_any()

    def chunks(self) -> Iterator[list[tuple[int, Event]]]:
        chunk: list[tuple[int, Event]] = []
        for line, raw in jsonl_rows(self.source, self.problems, "event", self._progress):
            event = self._checked(line, raw)
            if event is not None:
                chunk.append((line, event))
                if len(chunk) >= self._chunk:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def _checked(self, line: int, raw: Mapping[str, Any]) -> Event | None:
        """The line's event, or None (its problems added, or an id seen before)."""
        row = Row()
        event = _event(raw, row, self._types)
        for message in row.errors:
            self.problems.add(line, message)
        if event is None:
            return None
        mark = line << 64 | fingerprint(event)
        first = self.ids.setdefault(event.id, mark)
        if first == mark:
            return event
        if (first ^ mark) & _FINGERPRINT:
            self.problems.add(
                line,
                f"id {quoted(event.id)} was used for a different event on line {first >> 64}; "
                "event ids must be unique",
            )
        # An identical repeat (overlapping exports) is harmless: keep the first.
        return None


def fingerprint(event: Event) -> int:
    """64 bits of a digest of what makes two events the same event as the store compares
    them (their values as stored: a datetime in data keeps its offset, so ``10:00+02:00``
    and ``08:00Z`` differ; numbers compare as ``==`` does): the same events have one
    fingerprint, different ones the same only by a 1 in 2**64 chance. Not ``hash()``,
    whose collisions are certain (``hash(-1) == hash(-2)``).

    The data is walked with a stack of its own, not by recursion: JSON nested as deep
    as ``json.loads`` allows (about 1000 levels) is an event like any other here.
    """
    digest = hashlib.blake2b(digest_size=8)
    for token in _tokens(event):
        # Each token is a repr, which never holds a raw NUL: the NUL ends it unambiguously.
        digest.update(token.encode("utf-8", "surrogatepass") + b"\0")
    return int.from_bytes(digest.digest(), "big")


def _tokens(event: Event) -> Iterator[str]:
    """The event as a flat sequence of reprs: the head, then its data depth first, each
    dict or list opened with its kind and length, dict keys in sorted order."""
    yield repr((event.id, event.type, event.customer_id, event.at))
    stack: list[Any] = [event.data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            yield f"{{{len(value)}"  # then key, value, key, value: the counts place each
            for key in sorted(value, reverse=True):  # popped in sorted order
                stack += [value[key], key]
        elif isinstance(value, list):
            yield f"[{len(value)}"
            stack.extend(reversed(value))
        else:
            yield repr(_number(value))


def _number(value: Any) -> Any:
    # Numbers as == compares them: True == 1 == 1.0, so each is written as the int.
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _event(
    raw: Mapping[str, Any], row: Row, data_types: Mapping[str, Mapping[str, FieldType]]
) -> Event | None:
    for key in raw:
        if key not in EVENT_KEYS:
            row.add(key, f"unknown key {quoted(key)}; an event has {', '.join(EVENT_KEYS)}")
    event_id = row.check(identifier, "id", raw.get("id"), "event")
    type_ = row.check(identifier, "type", raw.get("type"), "event")
    if type_ is not None and data_types and type_ not in data_types:
        row.add("type", _undeclared_type(type_, data_types))
    customer = row.check(identifier, "customer", raw.get("customer"), "event")
    at_text = row.check(required_text, "at", raw.get("at"), "event")
    at = row.check(aware_datetime, "at", at_text) if at_text is not None else None
    data = _data(raw.get("data"), data_types.get(type_ or "", {}), row)
    if row.errors or not (event_id and type_ and customer and at) or data is None:
        return None
    return Event(id=event_id, type=type_, customer_id=customer, at=at.astimezone(UTC), data=data)


def _data(raw: Any, declared: Mapping[str, FieldType], row: Row) -> dict[str, Any] | None:
    """Event data with declared fields converted; None (and ``row.errors``) if any is wrong."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        row.add("data", f"data must be a JSON object {{...}}, not {kind(raw)}")
        return None
    before = len(row.errors)
    data = {key: row.check(convert, f"data.{key}", v, declared.get(key)) for key, v in raw.items()}
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
    type_text = _checked(problems, "TYPE", identifier, "type", type_, "event")
    if type_text is not None and data_types and type_text not in data_types:
        problems.append(
            Problem(path="TYPE", line=None, message=_undeclared_type(type_text, data_types))
        )
    customer_id = _checked(problems, "--customer", identifier, "customer", customer, "event")
    if event_id is not None:
        event_id = _checked(problems, "--id", identifier, "id", event_id, "event")
    when = now if at is None else _checked(problems, "--at", aware_datetime, "at", at.strip())
    raw_data = _checked(problems, "--data", _json_object, data_json)
    data_row = Row()
    data = _data(raw_data, data_types.get(type_text or "", {}), data_row)
    problems.extend(Problem(path="--data", line=None, message=m) for m in data_row.errors)
    raise_problems(problems)
    assert type_text and customer_id and when is not None and data is not None
    when = when.astimezone(UTC)
    if event_id is None:
        event_id = _default_id(type_text, customer_id, when, raw_data)
    return Event(id=event_id, type=type_text, customer_id=customer_id, at=when, data=data)


def _checked(
    problems: list[Problem], source: str, parse: Callable[..., _T], *args: Any
) -> _T | None:
    """``parse(*args)``; a wrong value adds its problem under the option (``source``)."""
    try:
        return parse(*args)
    except InvalidValue as exc:
        problems.append(Problem(path=source, line=None, message=str(exc)))
        return None


def _default_id(type_: str, customer: str, at: datetime, raw_data: Any) -> str:
    # A hash of what the event says: the same command run twice records it once.
    key = {"type": type_, "customer": customer, "at": at.isoformat(), "data": raw_data}
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "cli-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _json_object(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = strict_json(text)
    except json.JSONDecodeError as exc:
        raise InvalidValue(f"invalid JSON at column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # NaN or Infinity
        raise InvalidValue(f"invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidValue(f'must be a JSON object like {{"code": "X1"}}, not {kind(value)}')
    if has_nul(value):
        raise InvalidValue(NUL_PROBLEM)
    return value


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
        row = Row()
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
