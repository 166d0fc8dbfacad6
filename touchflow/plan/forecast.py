"""`touchflow forecast`: the whole audience's plan counted, never rendered. Pure.

A forecast plans everyone a page at a time (``touchflow.plan.forecast_store``) and
keeps only counts: a ``Tally`` takes each page's touchpoints and adds them to a few
counters keyed by the minute a touchpoint is due, its rule, its category and why it
is held (if it is). Those counters grow with the distinct minutes and rules of the
window, never with the audience, so a million customers cost the memory of a page.
Tallies of id ranges planned in other processes are added together with ``merge``;
``touchflow.plan.forecast_summary`` turns the total into what the views show.
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter

from touchflow.collector import collector_paused
from touchflow.config.caps import Cap
from touchflow.errors import UserError
from touchflow.models import Category, PlannedTouchpoint, Window

WEEK = timedelta(days=7)
_KEY = attrgetter("due_at", "rule_id", "category", "reason")
PLANNED = ""  # the "reason" of a touchpoint that is not held, in a tally's keys


class GroupBy(enum.StrEnum):
    """What the forecast's rows are: `--by`."""

    DAY = "day"
    WEEK = "week"
    HOUR = "hour"
    RULE = "rule"
    CATEGORY = "category"


@dataclass(frozen=True, slots=True, kw_only=True)
class Frequency:
    """ "More than ``limit`` marketing messages in any ``period``": from the marketing cap,
    or from `--over N` (then per cap period, or per 7 days without a marketing cap)."""

    limit: int
    period: timedelta
    source: str  # "caps" or "--over"


def frequency_for(caps: Iterable[Cap], over: int | None) -> Frequency | None:
    """The frequency a forecast counts customers against; None without a marketing cap
    and without `--over`."""
    cap = next((c for c in caps if c.category is Category.MARKETING), None)
    if over is not None:
        return Frequency(limit=over, period=cap.per if cap else WEEK, source="--over")
    if cap is None:
        return None
    return Frequency(limit=cap.max, period=cap.per, source="caps")


class UnknownCustomers(UserError):
    """`--customer` (``?customer=``) names ids the store does not hold: ``ids``, sorted."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = tuple(ids)
        super().__init__("; ".join(no_customer(i) for i in self.ids))


def no_customer(customer_id: str) -> str:
    return f"no customer {customer_id!r} in the store"


@dataclass(frozen=True, slots=True, kw_only=True)
class ForecastRequest:
    """What to count: the window, the filters, how to group, and the frequency check.

    ``customers``: only these ids (`--customer`), read by id; empty: everyone."""

    window: Window
    timezone: str  # the project's: days, weeks and hours are counted in it
    by: GroupBy = GroupBy.DAY
    customers: tuple[str, ...] = ()
    rule: str | None = None
    category: Category | None = None
    frequency: Frequency | None = None

    def wants(self, tp: PlannedTouchpoint) -> bool:
        """Whether the filters (`--rule`, `--category`) keep this touchpoint."""
        return self.rule in (None, tp.rule_id) and self.category in (None, tp.category)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    """Counts so far. Its counters fill up page by page; it holds no touchpoint.

    ``sends``: (minute due, as whole minutes since the epoch; rule; category; hold
    reason or ``PLANNED``) → touchpoints. ``most``: the most marketing messages one
    customer gets in any period of the request's frequency → customers (only those
    with at least one). ``people``: "customers" planned, "reached" (with a send).
    """

    sends: Counter[tuple[int, str, str, str]] = field(default_factory=Counter)
    most: Counter[int] = field(default_factory=Counter)
    people: Counter[str] = field(default_factory=Counter)

    def add_page(
        self, request: ForecastRequest, customers: int, touchpoints: Iterable[PlannedTouchpoint]
    ) -> None:
        """One page's plan: ``customers`` planned, their ``touchpoints`` (all rules).

        Counting makes no cycles, and the page's facts and touchpoints are still alive:
        the collector is paused, or each collection would walk them all again (a third
        of the planner's own time on a page of 20,000 customers)."""
        with collector_paused():
            self._add_page(request, customers, touchpoints)

    def _add_page(
        self, request: ForecastRequest, customers: int, touchpoints: Iterable[PlannedTouchpoint]
    ) -> None:
        if request.rule is not None or request.category is not None:
            touchpoints = [tp for tp in touchpoints if request.wants(tp)]
        elif not isinstance(touchpoints, list):
            touchpoints = list(touchpoints)
        # Counted by C loops (map, Counter), then folded into minutes: a page's touchpoints
        # share a few thousand due times, and this runs for every one of a million.
        for (due, rule, category, reason), n in Counter(map(_KEY, touchpoints)).items():
            why = reason.value if reason is not None else PLANNED
            self.sends[(int(due.timestamp()) // 60, rule, category.value, why)] += n
        planned = [tp for tp in touchpoints if tp.reason is None]
        self.people["customers"] += customers
        self.people["reached"] += len({tp.customer_id for tp in planned})
        if request.frequency is not None:
            marketing: defaultdict[str, list[datetime]] = defaultdict(list)
            for tp in planned:
                if tp.category is Category.MARKETING:
                    marketing[tp.customer_id].append(tp.due_at)
            period = request.frequency.period
            self.most.update(most_in_a_period(times, period) for times in marketing.values())

    def merge(self, other: Tally) -> None:
        """Add ``other`` (another id range's tally) to this one."""
        self.sends.update(other.sends)
        self.most.update(other.most)
        self.people.update(other.people)


def most_in_a_period(times: list[datetime], period: timedelta) -> int:
    """The most of ``times`` in any half-open span ``[t, t + period)``, as caps count:
    the fullest spans start at one of the times."""
    times.sort()
    return max(bisect_left(times, t + period) - i for i, t in enumerate(times))


def minute_start(minute: int) -> datetime:
    """The instant a tally's minute starts (UTC)."""
    return datetime.fromtimestamp(minute * 60, UTC)
