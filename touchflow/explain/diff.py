"""`touchflow diff`: what a change to rules, templates or touchflow.yaml will do, to whom.

The working tree is the new version; the base is a git revision or another checkout
(``touchflow.explain.diff_base``). Both plan the store's customers over the same window
(``touchflow.explain.diff_run``); the report sums the differences up per rule, with a
few example customers, and lists every key and every outbox row they touch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from touchflow.errors import UserError
from touchflow.explain.diff_base import Base
from touchflow.explain.diff_outbox import RowEffect, removed_rule_effects
from touchflow.explain.diff_run import DiffRequest, Versions, diff_everyone
from touchflow.plan.diff import KeyChange, Kind
from touchflow.plan.moment import Moment
from touchflow.project import Project
from touchflow.store import Store

DEFAULT_DAYS = 30
MAX_DAYS = 366
EXAMPLES = 3  # example customers per rule in the summary
CATEGORIES = ("marketing", "transactional")


class DiffError(UserError):
    """A request that cannot be answered: ``field`` names the option or parameter."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSummary:
    rule: str
    version: str  # "both", "base" (removed by the change) or "new" (added by it)
    where: str  # file:line in the new version (the base's for a removed rule)
    counts: dict[Kind, int]
    examples: tuple[str, ...]  # a few customers with a change, in id order
    outbox: dict[str, int]  # rows already in the outbox, by effect


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffReport:
    base: Base
    request: DiffRequest
    customers: int
    base_touchpoints: int
    new_touchpoints: int
    rules: tuple[RuleSummary, ...]
    changes: tuple[KeyChange, ...]
    effects: tuple[RowEffect, ...]

    @property
    def changed(self) -> bool:
        """Anything that the change would send, hold or move differently."""
        return bool(self.changes) or any(e.effect != "kept" for e in self.effects)


def diff_request(
    base: Project,
    new: Project,
    moment: Moment,
    *,
    days: int,
    customer: str | None = None,
    rule: str | None = None,
    category: str | None = None,
) -> DiffRequest:
    """The request, checked: a rule of either version, a known category, at most MAX_DAYS."""
    known = [r.id for r in new.rules] + [r.id for r in base.rules if r.id not in _ids(new)]
    if rule is not None and rule not in known:
        raise DiffError("rule", f"no rule {rule!r} in either version; rules: {', '.join(known)}")
    if category is not None and category not in CATEGORIES:
        raise DiffError(
            "category", f"category must be marketing or transactional, not {category!r}"
        )
    if not 1 <= days <= MAX_DAYS:
        raise DiffError("days", f"days must be a whole number from 1 to {MAX_DAYS}, not {days}")
    return DiffRequest(
        window=moment.window(days), now=moment.instant, customer=customer, rule=rule,
        category=category,
    )  # fmt: skip


def _ids(project: Project) -> set[str]:
    return {r.id for r in project.rules}


async def run_diff(
    base: Base,
    versions: Versions,
    store: Store,
    request: DiffRequest,
    *,
    workers: int | None = None,
) -> DiffReport:
    """Plan both versions over the request's window and sum up what differs."""
    if request.customer is not None and await store.get_customer(request.customer) is None:
        raise DiffError("customer", f"no customer {request.customer!r} in the store")
    part = await diff_everyone(versions, store, request, workers=workers)
    if request.customer is None:
        # A removed rule's rows are closed first, as "rule removed", wherever they are due.
        removed = await _removed(versions, store, request)
        keys = {e.key for e in removed}
        part.effects = [e for e in part.effects if e.key not in keys] + removed
    changes = sorted(part.changes, key=_change_order)
    effects = sorted(part.effects, key=lambda e: (e.due_at, e.customer, e.rule, e.key))
    return DiffReport(
        base=base, request=request, customers=part.customers,
        base_touchpoints=part.base_touchpoints, new_touchpoints=part.new_touchpoints,
        rules=summaries(versions.base, versions.new, changes, effects, request),
        changes=tuple(changes), effects=tuple(effects),
    )  # fmt: skip


async def _removed(versions: Versions, store: Store, request: DiffRequest) -> list[RowEffect]:
    keep = None if request.rule is None else [request.rule]
    effects = await removed_rule_effects(
        store, versions.base, versions.new, now=request.now, keep=keep
    )
    return [e for e in effects if request.category in (None, e.category)]


def _change_order(change: KeyChange) -> tuple[datetime, str, str, str]:
    shown = change.new or change.base
    assert shown is not None
    return (shown.due_at, change.customer, change.rule, change.key)


def summaries(
    base: Project,
    new: Project,
    changes: list[KeyChange],
    effects: list[RowEffect],
    request: DiffRequest,
) -> tuple[RuleSummary, ...]:
    """One summary per rule of either version (or the one asked for), in the new order."""
    old_ids = _ids(base)
    rules = [(r, "both" if r.id in old_ids else "new") for r in new.rules]
    rules += [(r, "base") for r in base.rules if r.id not in _ids(new)]
    result = []
    for rule, version in rules:
        if request.rule not in (None, rule.id):
            continue
        if request.category not in (None, rule.category.value):
            continue
        mine = [c for c in changes if c.rule == rule.id]
        counts = Counter(kind for c in mine for kind in c.kinds)
        result.append(
            RuleSummary(
                rule=rule.id, version=version, where=rule.where,
                counts={kind: counts.get(kind, 0) for kind in Kind},
                examples=tuple(sorted({c.customer for c in mine}))[:EXAMPLES],
                outbox=dict(Counter(e.effect for e in effects if e.rule == rule.id)),
            )
        )  # fmt: skip
    return tuple(result)
