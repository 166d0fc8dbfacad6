"""A forecast as scripts read it: JSON (docs/explain.md, a public interface) and CSV.

The JSON is the same from `touchflow forecast --format json` and `GET /v1/forecast`;
keep its shape stable (add keys, never rename or drop one).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from touchflow.durations import period_text
from touchflow.plan.forecast_summary import Crowding, Forecast, Group, Peak, RateCheck

CSV_COLUMNS = ("start", "planned", "held", "marketing", "transactional")


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_json(fc: Forecast) -> dict[str, Any]:
    request = fc.request
    return {
        "window": {
            "start": utc_text(request.window.start),
            "end": utc_text(request.window.end),
            "timezone": request.timezone,
        },
        "by": request.by.value,
        "filters": {
            "customer": list(request.customers) or None,
            "rule": request.rule,
            "category": request.category.value if request.category else None,
        },
        "customers": fc.customers,
        "reached": fc.reached,
        "planned": fc.planned,
        "held": fc.held,
        "held_by_reason": dict(fc.held_by_reason),
        "groups": [_group(g) for g in fc.groups],
        "rules": [
            {"rule": r.rule, "category": r.category, "planned": r.planned, "held": dict(r.held)}
            for r in fc.rules
        ],
        "peak_days": [_peak("day", p) for p in fc.peak_days],
        "peak_hours": [_peak("hour", p) for p in fc.peak_hours],
        "rate_limit": _rate(fc.rate),
        "frequency": _frequency(fc.crowding),
    }


def _group(group: Group) -> dict[str, Any]:
    return {
        "group": group.label,
        "start": utc_text(group.start) if group.start else None,
        "planned": group.planned,
        "held": group.held,
        "marketing": group.marketing,
        "transactional": group.transactional,
        "rules": dict(group.rules),
    }


def _peak(name: str, peak: Peak) -> dict[str, Any]:
    return {name: peak.label, "start": utc_text(peak.start), "planned": peak.planned}


def _rate(rate: RateCheck) -> dict[str, Any]:
    wait = rate.longest_wait
    return {
        "per_second": rate.per_second,
        "per_hour": rate.per_hour,
        "peak_hour": _peak("hour", rate.peak_hour) if rate.peak_hour else None,
        "hours_over": rate.hours_over if rate.per_second is not None else None,
        "longest_wait_seconds": int(wait.total_seconds()) if wait is not None else None,
        "enough": rate.enough,
        "message": rate_words(rate),
    }


def _frequency(crowding: Crowding | None) -> dict[str, Any] | None:
    if crowding is None:
        return None
    frequency = crowding.frequency
    return {
        "category": "marketing",
        "limit": frequency.limit,
        "period": period_text(frequency.period),
        "period_seconds": int(frequency.period.total_seconds()),
        "source": frequency.source,
        "customers_over": crowding.customers_over,
        "customers_by_most": {str(most): n for most, n in crowding.by_most.items()},
    }


def as_csv(fc: Forecast) -> str:
    """One line per group of `--by`: the group, its first instant (UTC; empty for a rule
    or a category), planned and held touchpoints, planned per category."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((fc.request.by.value, *CSV_COLUMNS))
    for g in fc.groups:
        start = utc_text(g.start) if g.start else ""
        writer.writerow((g.label, start, g.planned, g.held, g.marketing, g.transactional))
    return out.getvalue()


def wait_text(wait: timedelta) -> str:
    """``45 s``, ``12 min``, ``2 h 05 min``: how long a send waits for the relay."""
    seconds = int(wait.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = -(-seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def rate_words(rate: RateCheck) -> str:
    """The peak hour against the relay's rate limit, in words (the table's and the JSON's)."""
    peak = rate.peak_hour
    busiest = "no sends in the window"
    if peak is not None:
        busiest = f"the peak hour, {peak.label}, has {sends(peak.planned)}"
    if rate.per_second is None:
        return f"no rate limit configured (delivery.smtp.rate); {busiest}"
    limit = f"{rate.per_second:g} a second = {rate.per_hour:,} an hour"
    if peak is None:
        return f"rate limit {limit}; {busiest}"
    wait = wait_text(rate.longest_wait or timedelta(0))
    if rate.enough:
        return f"rate limit {limit}: enough; {busiest}; the latest send leaves {wait} late"
    hours = "1 hour has" if rate.hours_over == 1 else f"{rate.hours_over:,} hours have"
    return (
        f"warning: {hours} more sends than the rate limit ({limit}) lets out in an hour; "
        f"{busiest}; the latest send leaves {wait} late"
    )


def sends(n: int) -> str:
    return f"{n:,} send{'' if n == 1 else 's'}"
