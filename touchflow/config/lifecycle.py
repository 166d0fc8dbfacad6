"""The ``lifecycle:`` section of touchflow.yaml: when a customer stops being new, and more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from touchflow.checks import Collector


@dataclass(frozen=True, slots=True, kw_only=True)
class Lifecycle:
    """Stage thresholds from customer_since (no customer_since: prospect)."""

    new_days: int = 90
    long_time_years: int = 2
    integral_years: int = 5


def parse_lifecycle(value: Any, line: int, out: Collector) -> Lifecycle | None:
    doc = out.mapping(value, line, what="lifecycle")
    if doc is None:
        return None
    keys = ("new_days", "long_time_years", "integral_years")
    out.check_keys(doc, keys, where="lifecycle")
    values: dict[str, int] = {}
    for key in keys:
        if key in doc:
            raw = doc[key]
            if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
                values[key] = raw
            else:
                out.add(doc.line_of(key), f"lifecycle.{key} must be a whole number > 0")
    result = Lifecycle(**values)
    if result.long_time_years >= result.integral_years:
        where = doc.line_of("long_time_years") if "long_time_years" in doc else doc.line
        out.add(
            where,
            f"lifecycle.long_time_years ({result.long_time_years}) must be smaller "
            f"than integral_years ({result.integral_years})",
        )
    return result
