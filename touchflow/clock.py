"""The only module that reads the wall clock. Everything else is handed ``now``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Clock:
    """The daemon's time: the wall clock, shifted by ``offset`` (``touchflow run --now``)."""

    offset: timedelta = timedelta(0)

    @classmethod
    def starting_at(cls, start: datetime) -> Clock:
        return cls(offset=start - now())

    def now(self) -> datetime:
        return now() + self.offset

    def to_wall(self, instant: datetime) -> datetime:
        """The wall-clock instant at which this clock shows ``instant`` (for timers)."""
        return instant - self.offset
