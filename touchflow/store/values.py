"""Instants as stored: fixed-width UTC text, so that text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


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
