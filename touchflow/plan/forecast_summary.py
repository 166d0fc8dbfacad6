"""A forecast's tally made into what its views show: groups, rules, peaks, the rate check.

Pure: days, weeks and hours are the project's local ones (the zone is in the
request), and the relay's rate limit is handed in (``delivery.smtp.rate``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from touchflow.models import Category
from touchflow.plan.forecast import (
    PLANNED,
    ForecastRequest,
    Frequency,
    GroupBy,
    Tally,
    minute_start,
)
from touchflow.timecalc import resolve_local, zone

PEAKS = 5  # peak days and peak hours shown
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """One row of `--by`: a local day, week or hour, a rule or a category."""

    label: str  # 2026-12-01 · 2026-W49 · 2026-12-01T09:00+01:00 · a rule id · a category
    start: datetime | None  # a time group's first instant (UTC); None for rule and category
    planned: int
    held: int
    marketing: int  # planned, of the marketing category
    transactional: int
    rules: Mapping[str, int]  # planned, per rule (only rules with some)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleLine:
    rule: str
    category: str
    planned: int
    held: Mapping[str, int]  # per reason


@dataclass(frozen=True, slots=True, kw_only=True)
class Peak:
    label: str  # a local day (2026-12-01) or hour (2026-12-01T09:00+01:00)
    start: datetime  # UTC
    planned: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RateCheck:
    """The peak hour against the relay's rate limit (`delivery.smtp.rate`)."""

    per_second: float | None  # None: no rate limit configured
    peak_hour: Peak | None  # None: nothing planned
    hours_over: int  # local hours holding more than an hour's worth at the rate
    longest_wait: timedelta | None  # the latest a send leaves after it is due, at the rate

    @property
    def per_hour(self) -> int | None:
        return None if self.per_second is None else math.floor(self.per_second * 3600)

    @property
    def enough(self) -> bool | None:
        """Whether every hour's sends leave within the hour; None without a limit."""
        return None if self.per_second is None else self.hours_over == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Crowding:
    """Customers with more than the frequency's limit of marketing messages in a period."""

    frequency: Frequency
    customers_over: int
    by_most: Mapping[int, int]  # the most in any period → customers (with at least one)


@dataclass(frozen=True, slots=True, kw_only=True)
class Forecast:
    request: ForecastRequest
    customers: int  # planned (everyone in the store)
    reached: int  # customers with at least one planned send
    planned: int
    held: int
    groups: tuple[Group, ...]
    rules: tuple[RuleLine, ...]
    held_by_reason: Mapping[str, int]
    peak_days: tuple[Peak, ...]
    peak_hours: tuple[Peak, ...]
    rate: RateCheck
    crowding: Crowding | None


def summarize(
    tally: Tally,
    request: ForecastRequest,
    rules: Sequence[tuple[str, Category]],
    rate: float | None,
) -> Forecast:
    """The forecast of ``tally``; ``rules``: every rule's id and category, in project
    order (the filters choose which are shown); ``rate``: messages a second, or None."""
    shown = [(r, c) for r, c in rules if request.rule in (None, r)]
    shown = [(r, c) for r, c in shown if request.category in (None, c)]
    clock = _Clock(request.timezone)
    planned = sum(n for (_, _, _, why), n in tally.sends.items() if why == PLANNED)
    days = _peaks(tally, clock.day)
    hours = _peaks(tally, clock.hour)
    return Forecast(
        request=request,
        customers=tally.people["customers"],
        reached=tally.people["reached"],
        planned=planned,
        held=tally.sends.total() - planned,
        groups=_groups(tally, request, shown, clock),
        rules=_rule_lines(tally, shown),
        held_by_reason=_held(tally),
        peak_days=tuple(days[:PEAKS]),
        peak_hours=tuple(hours[:PEAKS]),
        rate=_rate(tally, hours, rate),
        crowding=_crowding(tally, request.frequency),
    )


class _Clock:
    """Minutes of a tally as local days, weeks and hours: each ``(label, UTC start)``."""

    def __init__(self, tz_name: str) -> None:
        self.tz = zone(tz_name)
        self._local: dict[int, datetime] = {}
        self._days: dict[date, datetime] = {}

    def local(self, minute: int) -> datetime:
        found = self._local.get(minute)
        if found is None:
            found = self._local[minute] = minute_start(minute).astimezone(self.tz)
        return found

    def day_start(self, day: date) -> datetime:
        found = self._days.get(day)
        if found is None:
            found = self._days[day] = resolve_local(day, time(0), self.tz)[0].astimezone(UTC)
        return found

    def day(self, minute: int) -> tuple[str, datetime]:
        day = self.local(minute).date()
        return day.isoformat(), self.day_start(day)

    def week(self, minute: int) -> tuple[str, datetime]:
        return self.week_of(self.local(minute).date())

    def week_of(self, day: date) -> tuple[str, datetime]:
        year, week, weekday = day.isocalendar()
        return f"{year}-W{week:02d}", self.day_start(day - timedelta(days=weekday - 1))

    def hour(self, minute: int) -> tuple[str, datetime]:
        start = self.local(minute).replace(minute=0)
        return start.isoformat(timespec="minutes"), start.astimezone(UTC)


def _time_keys(request: ForecastRequest, clock: _Clock) -> dict[str, datetime]:
    """Every local day (or week) of the window, in order, even those with nothing."""
    day = request.window.start.astimezone(clock.tz).date()
    last = (request.window.end - timedelta(microseconds=1)).astimezone(clock.tz).date()
    keys: dict[str, datetime] = {}
    while day <= last:
        if request.by is GroupBy.WEEK:
            label, start = clock.week_of(day)
        else:
            label, start = day.isoformat(), clock.day_start(day)
        keys.setdefault(label, start)
        day += timedelta(days=1)
    return keys


def _groups(
    tally: Tally, request: ForecastRequest, rules: Sequence[tuple[str, Category]], clock: _Clock
) -> tuple[Group, ...]:
    by = request.by
    starts: dict[str, datetime | None] = {}
    if by in (GroupBy.DAY, GroupBy.WEEK):
        starts.update(_time_keys(request, clock))
    elif by is GroupBy.RULE:
        starts.update((rule, None) for rule, _ in rules)
    elif by is GroupBy.CATEGORY:
        starts.update((c.value, None) for c in Category if request.category in (None, c))
    counts: defaultdict[str, Counter[tuple[str, str, str]]] = defaultdict(Counter)
    for (minute, rule, category, why), n in tally.sends.items():
        label = _label(by, clock, minute, rule, category)
        if by is GroupBy.HOUR and label not in starts:
            starts[label] = clock.hour(minute)[1]
        counts[label][(rule, category, why)] += n
    order = list(starts)
    if by is GroupBy.HOUR:
        order.sort(key=lambda k: starts[k] or _EPOCH)
    return tuple(_group(label, starts[label], counts[label]) for label in order)


def _label(by: GroupBy, clock: _Clock, minute: int, rule: str, category: str) -> str:
    if by is GroupBy.RULE:
        return rule
    if by is GroupBy.CATEGORY:
        return category
    if by is GroupBy.WEEK:
        return clock.week(minute)[0]
    if by is GroupBy.HOUR:
        return clock.hour(minute)[0]
    return clock.day(minute)[0]


def _group(label: str, start: datetime | None, counts: Counter[tuple[str, str, str]]) -> Group:
    planned: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    held = 0
    for (rule, category, why), n in counts.items():
        if why == PLANNED:
            planned[rule] += n
            categories[category] += n
        else:
            held += n
    return Group(
        label=label,
        start=start,
        planned=planned.total(),
        held=held,
        marketing=categories[Category.MARKETING.value],
        transactional=categories[Category.TRANSACTIONAL.value],
        rules=dict(sorted(planned.items())),
    )


def _rule_lines(tally: Tally, rules: Sequence[tuple[str, Category]]) -> tuple[RuleLine, ...]:
    planned: Counter[str] = Counter()
    held: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for (_, rule, _, why), n in tally.sends.items():
        if why == PLANNED:
            planned[rule] += n
        else:
            held[rule][why] += n
    return tuple(
        RuleLine(
            rule=rule,
            category=category.value,
            planned=planned[rule],
            held=dict(sorted(held[rule].items())),
        )
        for rule, category in rules
    )


def _held(tally: Tally) -> dict[str, int]:
    reasons: Counter[str] = Counter()
    for (_, _, _, why), n in tally.sends.items():
        if why != PLANNED:
            reasons[why] += n
    return dict(sorted(reasons.items()))


def _peaks(tally: Tally, bucket: Callable[[int], tuple[str, datetime]]) -> list[Peak]:
    """Every local day (or hour) with planned sends, the fullest first (then the earliest)."""
    counts: Counter[tuple[str, datetime]] = Counter()
    for (minute, _, _, why), n in tally.sends.items():
        if why == PLANNED:
            counts[bucket(minute)] += n
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0][1]))
    return [Peak(label=label, start=start, planned=n) for (label, start), n in ranked]


def _rate(tally: Tally, hours: Sequence[Peak], rate: float | None) -> RateCheck:
    peak = hours[0] if hours else None
    if rate is None:
        return RateCheck(per_second=None, peak_hour=peak, hours_over=0, longest_wait=None)
    per_hour = rate * 3600
    return RateCheck(
        per_second=rate,
        peak_hour=peak,
        hours_over=sum(1 for hour in hours if hour.planned > per_hour),
        longest_wait=longest_wait(tally, rate),
    )


def longest_wait(tally: Tally, rate: float) -> timedelta:
    """How late the last send due at the worst minute leaves, if the relay lets out one
    message every ``1 / rate`` seconds and the sends due in a minute are there at its
    start (the first of a queue leaves at once)."""
    due: Counter[int] = Counter()
    for (minute, _, _, why), n in tally.sends.items():
        if why == PLANNED:
            due[minute] += n
    worst = 0.0
    backlog, then = 0.0, None
    for minute in sorted(due):
        if then is not None:
            backlog = max(0.0, backlog - rate * 60 * (minute - then))
        backlog += due[minute]
        worst = max(worst, (backlog - 1) / rate)
        then = minute
    return timedelta(seconds=math.ceil(worst))


def _crowding(tally: Tally, frequency: Frequency | None) -> Crowding | None:
    if frequency is None:
        return None
    over = sum(n for most, n in tally.most.items() if most > frequency.limit)
    return Crowding(
        frequency=frequency, customers_over=over, by_most=dict(sorted(tally.most.items()))
    )
