"""What the daemon would do to rows already in the outbox when it loads the new version.

The daemon's own write logic (``touchflow.send.outbox``: ``desired_rows``, then
``plan_writes``) is applied to the rows of the keys that changed, and nothing is
written: each row is kept (sent, failed and claimed rows always are; history is not
rewritten), moved to its new due time, cancelled or suppressed (the plan holds it or no
longer has it), or revived (held before, planned now). A rule that left rules/ has its
open rows cancelled, wherever they are due, as the daemon's ``close_orphans`` does.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from touchflow.models import OutboxRow, OutboxState, PlannedTouchpoint, Window
from touchflow.plan.diff import KeyChange, Kind
from touchflow.project import Project
from touchflow.send.outbox import NOT_PLANNED, RULE_REMOVED, desired_rows, plan_writes
from touchflow.store import Store

_GONE = "no longer in the plan: the rule, the customer or their events changed"


@dataclass(frozen=True, slots=True, kw_only=True)
class RowEffect:
    """One outbox row and what loading the new version does to it."""

    key: str
    rule: str
    customer: str
    category: str
    effect: str  # kept, moved, cancelled, suppressed, revived, updated
    state: OutboxState  # as it is now
    due_at: datetime
    new_state: OutboxState
    new_due_at: datetime
    reason: str | None  # the new row's reason (cancelled: why)


async def row_effects(
    store: Store,
    project: Project,
    changes: Sequence[KeyChange],
    planned: Mapping[str, PlannedTouchpoint],
    *,
    window: Window,
    now: datetime,
) -> list[RowEffect]:
    """The rows of the keys in ``changes`` (but content alone: rows hold no content; the
    new text goes out when each is sent) under the new plan ``planned``, by key."""
    keys = [c.key for c in changes if any(k is not Kind.CONTENT for k in c.kinds)]
    if not keys:
        return []
    existing = await store.outbox_by_keys(keys)
    if not existing:
        return []
    caps = {rule.id: rule.policies.caps for rule in project.rules}
    desired = desired_rows([planned[k] for k in existing if k in planned], caps)
    vanished = [
        (row, NOT_PLANNED, _GONE)
        for key, row in existing.items()
        if key not in planned and window.start <= row.due_at < window.end
    ]
    writes = plan_writes(desired, existing, vanished, now=now)
    return _effects(existing.values(), {new.key: new for new, _ in writes.updates})


async def removed_rule_effects(
    store: Store, base: Project, new: Project, *, now: datetime, keep: Collection[str] | None
) -> list[RowEffect]:
    """The open rows of rules the new version no longer has (``keep``: of these rules only)."""
    kept_ids = [rule.id for rule in new.rules]
    gone_ids = {rule.id for rule in base.rules} - set(kept_ids)
    if keep is not None:
        gone_ids &= set(keep)
    if not gone_ids:
        return []
    rows = [r for r in await store.open_outbox_of_other_rules(kept_ids) if r.rule_id in gone_ids]
    vanished = [(r, RULE_REMOVED, f"rule {r.rule_id!r} is no longer in rules/") for r in rows]
    writes = plan_writes([], {}, vanished, now=now)
    return _effects(rows, {new_row.key: new_row for new_row, _ in writes.updates})


def _effects(rows: Collection[OutboxRow], updated: Mapping[str, OutboxRow]) -> list[RowEffect]:
    effects = []
    for have in sorted(rows, key=lambda r: (r.due_at, r.key)):
        want = updated.get(have.key, have)
        effects.append(
            RowEffect(
                key=have.key, rule=have.rule_id, customer=have.customer_id,
                category=have.category.value, effect=effect_of(have, want), state=have.state,
                due_at=have.due_at, new_state=want.state, new_due_at=want.due_at,
                reason=want.reason,
            )
        )  # fmt: skip
    return effects


def effect_of(have: OutboxRow, want: OutboxRow) -> str:
    if want is have:
        return "kept"
    if want.state is have.state:
        return "moved" if want.due_at != have.due_at else "updated"
    if want.state is OutboxState.CANCELLED:
        return "cancelled"
    if want.state is OutboxState.SUPPRESSED:
        return "suppressed"
    if have.state in (OutboxState.CANCELLED, OutboxState.SUPPRESSED, OutboxState.EXPIRED):
        return "revived"
    return "moved" if want.due_at != have.due_at else "updated"
