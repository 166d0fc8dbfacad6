"""`touchflow backtest`: what the rules as they are now would have sent over a past
period, against what the outbox shows was sent.

The request is checked here (``backtest_request``); the store is replayed by
``touchflow.explain.backtest_run``; the report sums the tally up per rule and per day,
and lists every key that differs, in time order.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from touchflow.errors import UserError
from touchflow.explain.backtest_replay import Period
from touchflow.explain.backtest_run import BacktestRequest, Replayer, backtest_everyone
from touchflow.explain.backtest_tally import Difference, KeyDifference, Tally
from touchflow.plan.moment import Moment
from touchflow.project import Project
from touchflow.store import Store
from touchflow.timecalc import zone

MAX_DAYS = 732  # two years
CATEGORIES = ("marketing", "transactional")


class BacktestError(UserError):
    """A request that cannot be answered: ``field`` names the option or parameter."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleLine:
    rule: str
    where: str | None  # file:line; None: no longer a rule (its sends are in the outbox)
    would_send: int
    sent: int
    both: int  # keys the rules would have sent and the outbox shows sent
    differences: dict[Difference, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class DayLine:
    day: date  # in the project's time zone
    would_send: dict[str, int]  # by rule
    sent: dict[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestReport:
    request: BacktestRequest
    now: datetime
    timezone: str
    customers: int
    arrived: int  # of them, first in the store after the period began
    rules: tuple[RuleLine, ...]
    days: tuple[DayLine, ...]
    differences: tuple[KeyDifference, ...]

    @property
    def same(self) -> bool:
        """Whether the rules would have sent exactly what was sent, on the same days."""
        return not self.differences


def period_end(moment: Moment) -> datetime:
    """Where ``--to`` ends the period: after the whole day it names, or at its instant."""
    return moment.window(1).end if moment.day is not None else moment.instant


def backtest_request(
    project: Project,
    start: Moment,
    end: Moment | None,
    now: Moment,
    *,
    customer: str | None = None,
    rule: str | None = None,
    category: str | None = None,
    as_happened: bool = False,
) -> BacktestRequest:
    """The request, checked: a past period of at most MAX_DAYS, a rule of the project."""
    until = now.instant if end is None else period_end(end)
    if end is not None and end.day is not None and end.instant <= now.instant < until:
        until = now.instant  # --to today: until now
    tz = project.config.timezone
    if until <= start.instant:
        raise BacktestError("to", f"the period must end after it starts ({_t(start.instant, tz)})")
    if until > now.instant:
        raise BacktestError(
            "to", f"the period must end by now ({_t(now.instant, tz)}): what is to come is "
            "`touchflow forecast`'s and `touchflow preview`'s",
        )  # fmt: skip
    if until - start.instant > timedelta(days=MAX_DAYS):
        raise BacktestError("from", f"a backtest covers at most {MAX_DAYS} days")
    rules = [r.id for r in project.rules]
    if rule is not None and rule not in rules:
        raise BacktestError("rule", f"no rule {rule!r}; rules: {', '.join(rules)}")
    if category is not None and category not in CATEGORIES:
        raise BacktestError(
            "category", f"category must be marketing or transactional, not {category!r}"
        )
    period = Period(
        start=start.instant, end=until, catch_up=project.config.daemon.catch_up,
        as_happened=as_happened,
    )  # fmt: skip
    return BacktestRequest(period=period, customer=customer, rule=rule, category=category)


def _t(instant: datetime, tz: str) -> str:
    return f"{instant.astimezone(zone(tz)):%Y-%m-%d %H:%M} {tz}"


async def run_backtest(
    project: Project,
    store: Store,
    request: BacktestRequest,
    *,
    now: datetime,
    workers: int | None = None,
) -> BacktestReport:
    """Replay the period for everyone (or the customer asked for) and sum it up."""
    if request.customer is not None and await store.get_customer(request.customer) is None:
        raise BacktestError("customer", f"no customer {request.customer!r} in the store")
    found = await backtest_everyone(Replayer.of(project, request), store, workers=workers)
    differences = sorted(found.differences, key=_difference_order)
    return BacktestReport(
        request=request, now=now, timezone=project.config.timezone, customers=found.customers,
        arrived=found.arrived, rules=_rule_lines(project, request, found), days=_day_lines(found),
        differences=tuple(differences),
    )  # fmt: skip


def _difference_order(d: KeyDifference) -> tuple[datetime, str, str, str]:
    return (d.would_send_at or d.sent_at or d.due_at, d.customer, d.rule, d.key)


def _rule_lines(project: Project, request: BacktestRequest, found: Tally) -> tuple[RuleLine, ...]:
    """One line per rule asked for, in the project's order, then any rule no longer in
    the project whose sends the outbox shows."""
    would, sent = _by_rule(found.would), _by_rule(found.sent)
    where = {r.id: r.where for r in project.rules if request.wants(r.id, r.category.value)}
    gone = sorted({rule for rule, _ in found.sent} - where.keys())
    kinds = Counter((d.rule, d.kind) for d in found.differences)
    return tuple(
        RuleLine(
            rule=rule,
            where=where.get(rule),
            would_send=would[rule],
            sent=sent[rule],
            both=found.both[rule],
            differences={k: kinds[rule, k] for k in Difference},
        )
        for rule in [*where, *gone]
    )


def _by_rule(counts: Counter[tuple[str, date]]) -> Counter[str]:
    result: Counter[str] = Counter()
    for (rule, _), n in counts.items():
        result[rule] += n
    return result


def _day_lines(found: Tally) -> tuple[DayLine, ...]:
    would: dict[date, dict[str, int]] = defaultdict(dict)
    sent: dict[date, dict[str, int]] = defaultdict(dict)
    for (rule, day), n in sorted(found.would.items()):
        would[day][rule] = n
    for (rule, day), n in sorted(found.sent.items()):
        sent[day][rule] = n
    return tuple(
        DayLine(day=day, would_send=would.get(day, {}), sent=sent.get(day, {}))
        for day in sorted(would.keys() | sent.keys())
    )
