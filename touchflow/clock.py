"""The only module that reads the wall clock. Everything else is handed ``now``."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
