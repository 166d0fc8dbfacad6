"""Instants as stored: fixed-width UTC text, so that text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    if instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant!r} cannot be stored; attach a time zone")
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_utc_text(text: str) -> datetime:
    return datetime.fromisoformat(text)
