"""Values as every store writes them: instants as fixed-width UTC text (so that text
order is time order), attributes and event data as compact JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any


def utc_text(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    if instant.tzinfo is UTC:
        return _utc_text(instant)
    if instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant!r} cannot be stored; attach a time zone")
    return _utc_text(instant.astimezone(UTC))


# Many rows share their instants (a batch's due times, a commit's "now"), and this runs
# for four columns of every outcome the dispatcher records: formatting was 5% of its CPU.
# Only UTC instants are cached: two local times of a DST fold compare equal but are not.
@lru_cache(maxsize=4096)
def _utc_text(instant: datetime) -> str:
    return instant.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_utc_text(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _json_default(value: object) -> str:
    # Declared date/datetime values go back to ISO text; readers parse by declared type.
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be stored as JSON")


def json_text(value: Any) -> str:
    """A JSON object as compact text, dates and instants as ISO text."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def check_keyset(after: tuple[datetime, str], newest_first: bool) -> None:
    """``list_outbox``'s ``after`` pages in due-time order only: a mistake in the caller."""
    if newest_first:
        raise ValueError(f"list_outbox: after={after!r} pages in due-time order, not newest first")
