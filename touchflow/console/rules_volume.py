"""Each rule's coming volume and a sample of its message, for the rules page.

Everyone is planned once over the next ``DAYS`` days, a page of customers at a time
(``plan_pages``, as `touchflow forecast` and the preview plan them: the same counts as
``touchflow forecast --by rule --days 30``); each page's touchpoints are counted per
rule and let go, keeping only each rule's first planned touchpoint (the earliest due,
then by customer) as its sample. Its cost is one planning of everyone on each visit
of the page (the planner runs in a worker thread; memory follows a page); the page
says so. The sample's subject is rendered by ``touchflow.messages.build.build``, and
the message page shows the whole message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from touchflow.messages.build import build
from touchflow.models import PlannedTouchpoint, Status, Window
from touchflow.plan.from_store import PlanRequest, plan_pages
from touchflow.plan.planner import TIME_ORDER
from touchflow.project import Project
from touchflow.store import Store

DAYS = 30  # the coming period counted


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    touchpoint: PlannedTouchpoint
    subject: str  # rendered now; "" if it cannot be (the message page says why)


@dataclass(frozen=True, slots=True, kw_only=True)
class Volumes:
    window: Window
    planned: Mapping[str, int]  # rule id → planned touchpoints in the window
    held: Mapping[str, int]  # rule id → held ones
    samples: Mapping[str, Sample]  # rule id → its first planned touchpoint (only rules with one)


async def volumes(project: Project, store: Store, now: datetime, days: int = DAYS) -> Volumes:
    window = Window.of_days(now, days)
    planned: Counter[str] = Counter()
    held: Counter[str] = Counter()
    first: dict[str, PlannedTouchpoint] = {}
    async for page in plan_pages(project, store, PlanRequest(window=window)):
        for tp in page:
            if tp.status is not Status.PLANNED:
                held[tp.rule_id] += 1
                continue
            planned[tp.rule_id] += 1
            known = first.get(tp.rule_id)
            if known is None or TIME_ORDER(tp) < TIME_ORDER(known):
                first[tp.rule_id] = tp
    samples = {
        rule: Sample(touchpoint=tp, subject=_subject(project, tp, now))
        for rule, tp in first.items()
    }
    return Volumes(window=window, planned=planned, held=held, samples=samples)


def _subject(project: Project, tp: PlannedTouchpoint, now: datetime) -> str:
    built = build(project, tp, date=now)
    return built.message.subject if built.message is not None else ""
