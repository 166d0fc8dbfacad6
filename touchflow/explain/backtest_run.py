"""`touchflow backtest`'s pass over the store: every customer replayed, a page at a time.

Each page of facts is read with what the store knows of when it learnt them
(``Store.known_since``) and with the outbox's sends of the period
(``Store.sent_of_customers``); each customer is replayed
(``touchflow.explain.backtest_replay``) and compared by key
(``touchflow.explain.backtest_tally``). A large store is shared out in id ranges among
worker processes, as the preview and `touchflow diff` do (``touchflow.plan.id_ranges``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from touchflow.explain.backtest_replay import Customer, Period, SendCheck, WouldSend, replay_page
from touchflow.explain.backtest_tally import Tally, tally
from touchflow.models import CustomerFacts, KnownSince, OutboxRow, Window
from touchflow.plan.candidates import sends_counted_from
from touchflow.plan.id_ranges import in_processes
from touchflow.plan.planner import Planner
from touchflow.project import Project, load_project_checked
from touchflow.store import EVERYONE, PAGE_SIZE, IdRange, Store, open_store

_NOTHING = KnownSince()
_EVER = datetime(1, 1, 1, tzinfo=UTC)  # every send of theirs


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestRequest:
    period: Period
    customer: str | None = None
    rule: str | None = None
    category: str | None = None

    def wants(self, rule_id: str, category: str) -> bool:
        return self.rule in (None, rule_id) and self.category in (None, category)


@dataclass(frozen=True, slots=True)
class Replayer:
    """The project's rules, ready to replay the request's period."""

    project: Project
    request: BacktestRequest
    planner: Planner
    counts_for_caps: Mapping[str, bool]
    check: SendCheck

    @classmethod
    def of(cls, project: Project, request: BacktestRequest) -> Replayer:
        period = request.period
        window = Window(start=period.start, end=period.end)
        planner = Planner(project.rules, window=window, config=project.config, now=period.start)
        caps = {rule.id: rule.policies.caps for rule in project.rules}
        return cls(project, request, planner, caps, SendCheck(project.rules, project.config))

    @property
    def sent_since(self) -> datetime:
        """Sends due since then count towards the caps of the period's first touchpoints."""
        return sends_counted_from(self.request.period.start, self.project.config)


async def backtest_everyone(
    replayer: Replayer, store: Store, *, workers: int | None = None
) -> Tally:
    """The tally of every customer (or the one asked for), in processes where that pays."""
    request = replayer.request
    if request.customer is not None:
        facts = await store.load_facts(
            customer_ids=[request.customer], sent_since=replayer.sent_since
        )
        return await backtest_page(replayer, store, facts)
    root = str(replayer.project.config.root)
    work = partial(_part_in_worker, root, request)
    here = partial(_backtest_range, replayer, store)
    parts = await in_processes(store, work, workers=workers, here=here)
    if parts is None:
        return await _backtest_range(replayer, store, EVERYONE)
    total = Tally()
    for part in parts:
        total.add(part)
    return total


def _part_in_worker(root: str, request: BacktestRequest, ids: IdRange) -> Tally:
    """In a worker process: load the project, and replay the customers of one id range."""
    return asyncio.run(_part(Path(root), request, ids))


async def _part(root: Path, request: BacktestRequest, ids: IdRange) -> Tally:
    project = load_project_checked(root)
    async with await open_store(project.config.store_location()) as store:
        return await _backtest_range(Replayer.of(project, request), store, ids)


async def _backtest_range(replayer: Replayer, store: Store, ids: IdRange) -> Tally:
    total = Tally()
    since = replayer.sent_since
    async for page in store.facts_pages(page_size=PAGE_SIZE, ids=ids, sent_since=since):
        total.add(await backtest_page(replayer, store, page))
    return total


async def backtest_page(replayer: Replayer, store: Store, page: list[CustomerFacts]) -> Tally:
    """One page of customers replayed and compared with the outbox's sends."""
    if not page:
        return Tally()
    ids = [f.customer.id for f in page]
    period = replayer.request.period
    known = {} if period.as_happened else await store.known_since(ids)
    # Every send of theirs: those before the period are sent once, whatever they were.
    sent = await store.sent_of_customers(ids, due_from=_EVER, due_to=period.end)
    before: dict[str, list[str]] = {}
    for row in sent:
        if row.due_at < period.start:
            before.setdefault(row.customer_id, []).append(row.key)
    # The planner is pure: in a worker thread it leaves a daemon's event loop free.
    would = await asyncio.to_thread(_replay_page, replayer, page, known, before)
    wanted = replayer.request.wants
    came = {f.customer.id: f.customer.created_at for f in page}
    rows = [r for r in sent if r.due_at >= period.start and wanted(r.rule_id, r.category.value)
            and (period.as_happened or not _before(r, came.get(r.customer_id)))]  # fmt: skip
    found = tally(len(page), would, rows, ZoneInfo(replayer.project.config.timezone))
    if not period.as_happened:
        found.arrived = sum(1 for f in page if _came_after_start(f, period))
    return found


def _before(row: OutboxRow, came: datetime | None) -> bool:
    """A send made before the customer came: to an erased customer who came back."""
    return came is not None and (row.sent_at or row.due_at) < came


def _came_after_start(facts: CustomerFacts, period: Period) -> bool:
    came = facts.customer.created_at
    return came is not None and came > period.start


def _replay_page(
    replayer: Replayer,
    page: Sequence[CustomerFacts],
    known: Mapping[str, KnownSince],
    before: Mapping[str, list[str]],
) -> list[WouldSend]:
    period, wanted = replayer.request.period, replayer.request.wants
    customers = [
        Customer(f, known.get(f.customer.id, _NOTHING), before.get(f.customer.id, ())) for f in page
    ]
    sends = replay_page(
        replayer.planner, customers, period, replayer.counts_for_caps, replayer.check
    )
    return [s for s in sends if wanted(s.rule_id, s.category.value)]
