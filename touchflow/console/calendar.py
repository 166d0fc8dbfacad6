"""The calendar: the coming weeks as a month grid of sends per day, counted by the forecast.

The counts are `touchflow forecast`'s (``tally_everyone`` then ``summarize``, by day
and by hour, from one planning of everyone); the console does not plan by itself.
A day is shaded by its sends against the fullest day, and marked when its fullest
hour holds more than the relay lets out in an hour (``delivery.smtp.rate``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo

from touchflow.models import Window
from touchflow.plan.forecast import ForecastRequest, GroupBy
from touchflow.plan.forecast_store import rate_limit, tally_everyone
from touchflow.plan.forecast_summary import Forecast, summarize
from touchflow.project import Project
from touchflow.store import Store
from touchflow.timecalc import zone

LEVELS = 4  # shades of a day with sends: 1 (a few) to 4 (the fullest)


@dataclass(frozen=True, slots=True, kw_only=True)
class Day:
    day: date
    inside: bool  # in the forecast's window (the grid pads whole weeks)
    planned: int = 0
    held: int = 0
    level: int = 0  # 0: nothing planned; else 1..LEVELS
    peak_hour: int = 0  # sends of its fullest hour
    over_rate: bool = False  # that hour holds more than the relay sends in an hour


@dataclass(frozen=True, slots=True, kw_only=True)
class Month:
    weeks: tuple[tuple[Day, ...], ...]  # Monday to Sunday
    forecast: Forecast  # by day: totals, held by reason, the rate check
    hours: Forecast  # the same counts by local hour


async def counts(project: Project, store: Store, window: Window, by: GroupBy) -> Forecast:
    """The forecast of everyone in ``window``, grouped ``by`` (a day's hours)."""
    request = ForecastRequest(window=window, timezone=project.config.timezone, by=by)
    tally = await tally_everyone(project, store, request, workers=1)
    rules = [(rule.id, rule.category) for rule in project.rules]
    return summarize(tally, request, rules, rate_limit(project.config))


async def month(project: Project, store: Store, window: Window) -> Month:
    request = ForecastRequest(window=window, timezone=project.config.timezone)
    tally = await tally_everyone(project, store, request, workers=1)
    rules = [(rule.id, rule.category) for rule in project.rules]
    rate = rate_limit(project.config)
    by_day = summarize(tally, request, rules, rate)
    by_hour = summarize(tally, replace(request, by=GroupBy.HOUR), rules, rate)
    return Month(weeks=grid(by_day, by_hour), forecast=by_day, hours=by_hour)


def grid(by_day: Forecast, by_hour: Forecast) -> tuple[tuple[Day, ...], ...]:
    """The window's local days as whole weeks, Monday first."""
    tz = zone(by_day.request.timezone)
    groups = {g.label: g for g in by_day.groups}
    peaks = _peak_hours(by_hour, tz)
    most = max((g.planned for g in groups.values()), default=0)
    per_hour = by_day.rate.per_hour
    first = _local_day(by_day.request.window.start, tz)
    last = _local_day(by_day.request.window.end - timedelta(microseconds=1), tz)
    day = first - timedelta(days=first.weekday())
    weeks: list[tuple[Day, ...]] = []
    while day <= last:
        week = []
        for _ in range(7):
            group = groups.get(day.isoformat())
            if group is None:
                week.append(Day(day=day, inside=first <= day <= last))
            else:
                peak = peaks.get(day, 0)
                over = per_hour is not None and peak > per_hour
                week.append(Day(
                    day=day, inside=True, planned=group.planned, held=group.held,
                    level=shade(group.planned, most), peak_hour=peak, over_rate=over,
                ))  # fmt: skip
            day += timedelta(days=1)
        weeks.append(tuple(week))
    return tuple(weeks)


def shade(planned: int, most: int) -> int:
    """0 for nothing, else 1..LEVELS by the share of the fullest day."""
    if planned <= 0 or most <= 0:
        return 0
    return max(1, -(-planned * LEVELS // most))


def _peak_hours(by_hour: Forecast, tz: tzinfo) -> Mapping[date, int]:
    peaks: dict[date, int] = {}
    for group in by_hour.groups:
        if group.start is not None:
            day = group.start.astimezone(tz).date()
            peaks[day] = max(peaks.get(day, 0), group.planned)
    return peaks


def _local_day(instant: datetime, tz: tzinfo) -> date:
    return instant.astimezone(tz).date()


def held_reasons(forecast: Forecast) -> Sequence[tuple[str, int]]:
    return sorted(forecast.held_by_reason.items(), key=lambda item: (-item[1], item[0]))
