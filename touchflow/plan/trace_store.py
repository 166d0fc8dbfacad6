"""`touchflow why` from a store: one customer's facts, suppressions and outbox rows, told.

Shared by the CLI (`touchflow why`) and the HTTP interface (``GET
/v1/customers/{id}/why``), so both tell the same story from the same reads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from touchflow.errors import UserError, shown
from touchflow.models import Category, Window
from touchflow.plan.candidates import sends_counted_from
from touchflow.plan.moment import Moment
from touchflow.plan.trace import StoryInputs, tell
from touchflow.plan.trace_model import CustomerStory
from touchflow.project import Project
from touchflow.store import Store
from touchflow.timecalc import resolve_local, zone

DEFAULT_DAYS = 30  # the future period, as `--days`
DEFAULT_PAST = 30  # the past period, as `--past`
MAX_DAYS = 3660


class WhyError(UserError):
    """A `why` request that cannot be answered; ``field`` names the argument at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True, kw_only=True)
class WhyRequest:
    customer: str
    now: datetime
    past: Window
    future: Window
    rule_ids: frozenset[str] | None = None  # None: every rule


def why_request(
    project: Project,
    customer: str,
    moment: Moment,
    *,
    days: int,
    past: int,
    rule: str | None = None,
    category: str | None = None,
) -> WhyRequest:
    """The periods around ``moment`` and the rules asked for, checked against the project."""
    ids = [r.id for r in project.rules]
    if rule is not None and rule not in ids:
        raise WhyError("rule", f"no rule {rule!r}; rules: {', '.join(ids)}")
    wanted: set[str] | None = None if rule is None else {rule}
    if category is not None:
        if category not in {c.value for c in Category}:
            raise WhyError(
                "category", f"category must be marketing or transactional, not {category!r}"
            )
        of_category = {r.id for r in project.rules if r.category.value == category}
        wanted = of_category if wanted is None else wanted & of_category
    if moment.day is None:
        start = moment.instant - timedelta(days=past)
    else:  # whole local days back, as --days counts them forward
        start = resolve_local(moment.day - timedelta(days=past), time(0), zone(moment.timezone))[0]
    return WhyRequest(
        customer=customer,
        now=moment.instant,
        past=Window(start=start, end=moment.instant),
        future=moment.window(days),
        rule_ids=None if wanted is None else frozenset(wanted),
    )


async def customer_story(project: Project, store: Store, request: WhyRequest) -> CustomerStory:
    """The story of ``request.customer``; ``WhyError`` (field "customer") if there is none."""
    customer = await store.get_customer(request.customer)
    if customer is None:
        raise WhyError("customer", f"no customer {shown(request.customer)} in the store")
    config = project.config
    sent_since = sends_counted_from(request.past.start, config)
    (facts,) = await store.load_facts(customer_ids=[customer.id], sent_since=sent_since)
    suppressions = await store.list_suppressions(email=customer.email) if customer.email else []
    if customer.phone:  # a number is suppressed on its own (a STOP reply)
        suppressions += await store.list_suppressions(email=customer.phone)
    rows = await store.list_outbox(customer_id=customer.id)
    inputs = StoryInputs(facts=facts, suppressions=suppressions, outbox=rows)
    # The planner is pure: in a worker thread it leaves a daemon's event loop free to send.
    return await asyncio.to_thread(
        tell,
        project.rules,
        inputs,
        config=config,
        now=request.now,
        past=request.past,
        future=request.future,
        rule_ids=request.rule_ids,
    )
