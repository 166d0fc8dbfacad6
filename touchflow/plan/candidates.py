"""One customer's candidate touchpoints, their contexts, and the caps they compete under.

A candidate is a touchpoint before it is final: due in the planning window or
(as a rival under a cap) in the look-ahead after it, planned or held. It is
also the touchpoint's template context, built on first use: planning for the
outbox reads no context at all, a preview renders each one once, and building
them all up front took a third of the time (and most of the memory) of
planning. The facts are immutable, so a context built later holds exactly
what it would have held when planned.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from touchflow.config.caps import Cap
from touchflow.config.project_config import ProjectConfig
from touchflow.durations import period_text
from touchflow.models import CustomerFacts, HoldReason, SentRecord
from touchflow.plan.occurrences import Occurrence, quoted
from touchflow.plan.rule_plans import Place
from touchflow.plan.timing import Settled
from touchflow.rules.context import CustomerValues, event_context
from touchflow.rules.schema import Rule


class CustomerState:
    """One customer while being planned: where, and the context values once built."""

    __slots__ = ("_values", "config", "country", "facts", "place", "quoted_id", "zone")

    def __init__(self, facts: CustomerFacts, place: Place, config: ProjectConfig) -> None:
        self.facts = facts
        self.place = place
        self.zone = place.zone
        self.country = place.country
        self.config = config
        self.quoted_id = quoted(facts.customer.id)
        self._values: CustomerValues | None = None

    def values(self) -> CustomerValues:
        if self._values is None:
            self._values = CustomerValues(self.facts.customer, self.facts.events, self.config)
        return self._values


class Candidate(Mapping[str, Any]):
    """A touchpoint of one customer, its time settled, held with ``reason`` or planned.

    As a mapping it is the touchpoint's context: what templates and conditions
    see, as of the due time.
    """

    __slots__ = (
        "_context", "adjustments", "channel", "counts", "customer", "detail", "due", "expires",
        "key", "occ", "reason", "rule", "skipped",
    )  # fmt: skip

    def __init__(
        self, customer: CustomerState, rule: Rule, occ: Occurrence, key: str, settled: Settled,
        expires: datetime,
    ) -> None:  # fmt: skip
        # Positional: made for every touchpoint of every customer, keywords cost.
        self.customer = customer
        self.rule = rule
        self.channel = rule.channel  # the one it goes by: a fallback may choose a later one
        self.counts = rule.policies.caps  # whether caps count and limit it
        self.occ = occ
        self.key = key
        self.due = settled.due
        self.adjustments = settled.adjustments
        self.skipped = settled.skipped  # the holiday a `holidays: skip` policy holds it on
        self.expires = expires
        self.reason: HoldReason | None = None
        self.detail: str | None = None
        self._context: dict[str, Any] | None = None

    def context(self) -> dict[str, Any]:
        if self._context is None:
            self._context = self._build()
        return self._context

    def _build(self) -> dict[str, Any]:
        cust, occ, rule = self.customer, self.occ, self.rule
        local = self.due.astimezone(cust.zone.tz)
        context: dict[str, Any] = {
            "customer": cust.values().at(self.due, local.date()),
            "occurrence": dict(occ.values),
            "touchpoint": {
                "key": self.key,
                "rule": rule.id,
                "category": rule.category.value,
                "send_at": local,
            },
            "vars": dict(cust.config.vars),
        }
        if occ.event is not None:
            context["event"] = event_context(occ.event, occ.data)
        return context

    def __getitem__(self, key: str) -> Any:
        return self.context()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.context())

    def __len__(self) -> int:
        return len(self.context())

    def __repr__(self) -> str:
        return repr(self.context())


def sends_counted_from(start: datetime, config: ProjectConfig) -> datetime:
    """How far back sends count for touchpoints due from ``start`` on: every plan (the
    preview's, the daemon's, the check before a send) loads the sends due since then."""
    return start - config.longest_cap


def apply_caps(
    candidates: Sequence[Candidate], sent: Sequence[SentRecord], caps: Sequence[Cap]
) -> None:
    """Frequency caps per category: higher priority wins, then the earlier send, then the key.

    A cap of ``max`` per ``per`` allows at most ``max`` touchpoints due in any period
    ``[t, t + per)``: one due exactly ``per`` after another is in the next period,
    not the same one. Sent touchpoints count at their due time, like the ones still
    to come, not at the moment they went out: a send that left a few milliseconds
    (or, from an hourly cron, an hour) late must not cap a touchpoint that the
    preview, which knows only due times, promised. Candidates that no longer fit are
    held as ``capped``. A cap counts every channel together, unless ``per_channel``:
    then each channel (the one each candidate goes by) is counted apart.
    """
    rivals = [c for c in candidates if c.counts and c.reason is None]
    if not sent and all(len(rivals) <= cap.max for cap in caps):
        return  # no period of any cap can hold more than all of them: every one fits
    # A touchpoint already sent is counted once, as sent, not again as a candidate.
    sent_keys = {s.key for s in sent}
    for cap in caps:
        order = [
            c
            for c in rivals
            if c.rule.category is cap.category and c.reason is None and c.key not in sent_keys
        ]
        taken = [s for s in sent if s.category is cap.category]
        if not cap.per_channel:
            _fill(cap, order, [s.due_at for s in taken], "")
            continue
        for channel in sorted({c.channel for c in order}):
            mine = [c for c in order if c.channel == channel]
            _fill(cap, mine, [s.due_at for s in taken if s.channel == channel], f"{channel} ")


def _fill(cap: Cap, order: list[Candidate], taken: list[datetime], by: str) -> None:
    """Let candidates in by priority, time and key while the cap has room; hold the rest."""
    if len(taken) + len(order) <= cap.max:
        return  # no period can hold more than all of them: every one fits
    taken.sort()
    order.sort(key=lambda c: (-c.rule.priority, c.due, c.key))
    for candidate in order:
        if _fits(taken, candidate.due, cap.max, cap.per):
            bisect.insort(taken, candidate.due)
        else:
            candidate.reason = HoldReason.CAPPED
            candidate.detail = (
                f"cap of {cap.max} {cap.category.value} {by}per {period_text(cap.per)} reached"
            )


def _fits(taken: list[datetime], at: datetime, limit: int, per: timedelta) -> bool:
    """Whether one more send at ``at`` keeps every period ``[start, start + per)`` within
    ``limit``. The fullest periods start at a send, so only those are counted: the ones
    that hold ``at``, starting after ``at - per`` and at the latest at ``at``."""
    times = sorted([*taken, at])
    for start in times:
        if at - per < start <= at:
            count = bisect.bisect_left(times, start + per) - bisect.bisect_left(times, start)
            if count > limit:
                return False
    return True
