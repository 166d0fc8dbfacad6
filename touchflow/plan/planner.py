"""The planner: (rules, facts, window) → planned touchpoints. Pure.

It reads no clock, opens no file and sends nothing; it is told "now" (by
default ``window.start``). The same function feeds ``touchflow preview`` and
the daemon, so a preview is a promise of what will be sent.

A touchpoint that expired before its customer existed (``Customer.created_at``)
is not planned at all: no daemon could have sent it, so it is neither a send
nor a miss (a customer imported today has no birthday card of last week).

It is built to plan a million customers in seconds: what does not depend on
the customer is worked out once per call (the rules; the due times of date,
holiday, cron and yearly triggers per zone and country, see ``rule_plans``); a
rule is skipped for a customer without events of its type; a template context
is built only when a condition or a template reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import attrgetter

from touchflow.builders import positional_builder
from touchflow.collector import collector_paused
from touchflow.config.project_config import ProjectConfig
from touchflow.models import (
    CustomerFacts,
    HoldReason,
    PlannedTouchpoint,
    Status,
    Window,
)
from touchflow.plan import unplannable
from touchflow.plan.candidates import Candidate, CustomerState, apply_caps
from touchflow.plan.channels import GATES, address_of, choose
from touchflow.plan.occurrences import (
    Occurrence,
    customer_date,
    date_fields,
    quoted,
    yearly_occurrence,
)
from touchflow.plan.rule_plans import RulePlan, Shared
from touchflow.plan.timing import Settled, Timing, expiry_of, pad_days
from touchflow.rules.expressions import ConditionError, evaluate
from touchflow.rules.schema import Rule, YearlyTrigger

# The order of every plan: by time, then customer, rule and key.
TIME_ORDER = attrgetter("due_at", "customer_id", "rule_id", "key")
_RULE_ORDER = attrgetter("rule_id", "key")
_DUE = attrgetter("due_at")
# One or two per customer: see touchflow.builders. Its fields in their order, no names.
_new_touchpoint = positional_builder(PlannedTouchpoint)


def plan(
    rules: Sequence[Rule],
    facts: Iterable[CustomerFacts],
    *,
    window: Window,
    config: ProjectConfig,
    now: datetime | None = None,
) -> list[PlannedTouchpoint]:
    """Every touchpoint due in ``window``, planned or held with a reason, ordered by time."""
    return Planner(rules, window=window, config=config, now=now).plan(facts)


class Planner:
    """``plan()`` for customers that come in pages: the rules and the due times
    customers share are prepared once, then each page is planned on its own.

    A customer's touchpoints depend only on their own facts, so planning a page
    gives exactly that page's share of planning everyone at once.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        window: Window,
        config: ProjectConfig,
        now: datetime | None = None,
    ) -> None:
        self._planner = _Planner(rules, window, config, window.start if now is None else now)

    def plan(self, facts: Iterable[CustomerFacts]) -> list[PlannedTouchpoint]:
        """These customers' touchpoints due in the window, ordered by time."""
        result: list[PlannedTouchpoint] = []
        plan_customer, last = self._planner.customer, None
        in_order = True  # customers come by id (pages do): see below
        with collector_paused():  # see touchflow.collector: none of this makes cycles
            for customer_facts in facts:
                try:  # free in the usual case (zero-cost try): the planner is hot
                    if customer_facts.unreadable is not None:
                        raise unplannable.UnreadableRecord(customer_facts.unreadable)
                    found = plan_customer(customer_facts)
                except Exception as exc:  # one bad record must not stop everyone's plan
                    found = self._planner.unplannable(customer_facts, exc)
                if found:
                    customer_id = customer_facts.customer.id
                    if last is not None and customer_id <= last:
                        in_order = False
                    last = customer_id
                    if len(found) > 1:
                        found.sort(key=_RULE_ORDER)
                    result.extend(found)
            # Customers by id, each one's touchpoints by rule and key: then a stable sort
            # by time alone gives TIME_ORDER, without a key tuple per touchpoint and its
            # comparisons (a sixth of the time of planning a page of customers).
            result.sort(key=_DUE if in_order else TIME_ORDER)
        return result


class _Planner:
    """State for one plan() call: the prepared rules and what customers share."""

    def __init__(
        self, rules: Sequence[Rule], window: Window, config: ProjectConfig, now: datetime
    ) -> None:
        self.now = now
        lookahead = config.longest_cap
        # Plan past the window's end by the longest cap period, so a cap that bites
        # just after the window decides the same way in a short and a long preview.
        wide = Window(start=window.start, end=window.end + lookahead)
        self.window = window
        self.config = config
        self.timing = Timing(config, wide, pad_days(rules))
        dates = date_fields(config)
        prepared = tuple(RulePlan.of(i, rule, config, dates, wide) for i, rule in enumerate(rules))
        self.by_event: dict[str, list[RulePlan]] = {}  # rules by their trigger's event type
        for rp in prepared:
            if rp.event is not None:
                self.by_event.setdefault(rp.event, []).append(rp)
        self.yearly = tuple(rp for rp in prepared if rp.yearly is not None)
        self.prepared, self.dates = prepared, dates
        self.shared = Shared(prepared, self.timing, window)

    def customer(self, facts: CustomerFacts) -> list[PlannedTouchpoint]:
        """The customer's touchpoints in the window. (Their order does not matter: caps
        decide by priority, time and key, and plan() sorts.)"""
        customer, config = facts.customer, self.config
        place = self.shared.place(
            customer.timezone or config.timezone, customer.country or config.country
        )
        cust = CustomerState(facts, place, config)
        found: list[Candidate] = []
        if facts.events:
            # Without an event of its trigger's type a rule has no occurrence.
            for event_type in {event.type for event in facts.events}:
                for rp in self.by_event.get(event_type, ()):
                    self._from_events(rp, cust, found)
        for rp in self.yearly:
            assert rp.yearly is not None
            self._from_yearly(rp, rp.yearly, cust, found)
        for slot in place.dated:
            assert slot.occ is not None
            self._add(slot.rule, cust, slot.occ, slot.tail, slot.settled, slot.expires, found)
        if customer.created_at is not None and found:
            found = self._since_existed(customer.created_at, found)
        if not found:
            return []
        apply_caps(found, facts.sent, self.config.caps)
        end = self.window.end  # none is due before the window's start
        return [self._touchpoint(cust, c) for c in found if c.due < end]

    def unplannable(self, facts: CustomerFacts, exc: Exception) -> list[PlannedTouchpoint]:
        """Held touchpoints standing in for a customer whose facts made planning fail
        (see touchflow.plan.unplannable): the rules of their event types and the rules
        that concern every customer."""
        detail = unplannable.detail_of(facts, exc, self.dates)
        unplannable.report(facts.customer.id, detail)
        types = {event.type for event in facts.events}
        rules = [rp.rule for rp in self.prepared if rp.event is None or rp.event in types]
        zone_name = facts.customer.timezone or self.config.timezone
        return unplannable.held(facts, rules, detail=detail, now=self.now, timezone=zone_name)

    def _since_existed(self, created_at: datetime, found: list[Candidate]) -> list[Candidate]:
        """Leave out what expired before the customer existed (and so never counts
        towards a cap). A customer stored "after now" is a rehearsal (``--now`` in the
        past): they count as existing from now, so the rehearsal still sends."""
        existed = min(created_at, self.now)
        return [c for c in found if c.expires > existed]

    def _from_events(self, rp: RulePlan, cust: CustomerState, found: list[Candidate]) -> None:
        rule, zone, timing = rp.rule, cust.zone, self.timing
        assert rp.events is not None
        wide = timing.wide
        # Those anchored where every offset of theirs is due outside the plan: left out.
        for occ in rp.events.of(cust.facts.events, rp.anchors):
            anchor = occ.anchor
            tail = quoted(occ.key)
            for k, step in enumerate(rp.steps):
                if anchor is None:  # invalid data: held, due when the event happened
                    assert occ.event is not None
                    at = occ.event.at
                    settled = Settled(at, (), None) if wide.contains(at) else None
                else:
                    where = (rp.index, k)
                    settled = timing.of_anchor(where, rule, step, anchor, rp.at, zone, cust.country)
                # After the window only a rival under a cap matters.
                if settled is not None and (rp.beyond or settled.due < self.window.end):
                    expires = expiry_of(rule, anchor, step.offset, settled.due, zone.tz)
                    self._add(rp, cust, occ, f"{tail}:{rp.labels[k]}", settled, expires, found)

    def _from_yearly(
        self, rp: RulePlan, trig: YearlyTrigger, cust: CustomerState, found: list[Candidate]
    ) -> None:
        origin = customer_date(cust.facts.customer, trig.field)
        if origin is None:
            return
        for year, day, slots in cust.place.yearly(rp, origin.month, origin.day):
            occ = yearly_occurrence(trig, origin, year, day)
            if occ is not None:
                for slot in slots:
                    self._add(rp, cust, occ, slot.tail, slot.settled, slot.expires, found)

    def _add(
        self, rp: RulePlan, cust: CustomerState, occ: Occurrence, tail: str, settled: Settled,
        expires: datetime, found: list[Candidate],
    ) -> None:  # fmt: skip
        """Hold or plan one touchpoint. Its key is ``rule:customer:occurrence:offset``
        (``tail`` is the last two), each part %-quoted so ':' cannot be ambiguous."""
        rule = rp.rule
        candidate = Candidate(
            cust, rule, occ, f"{rule.id}:{cust.quoted_id}:{tail}", settled, expires
        )
        reason, detail = self._hold(cust, candidate)
        due, adjustments = settled.due, settled.adjustments
        if reason is None and expires <= due:
            reason = HoldReason.TOO_LATE
            detail = (
                f"due {due:%Y-%m-%d %H:%M} UTC, after it expires at {expires:%Y-%m-%d %H:%M} UTC"
            )
            if adjustments:
                detail += f" ({', '.join(a.value for a in adjustments)})"
        if reason is None and adjustments:
            detail = settled.moved
        candidate.reason, candidate.detail = reason, detail
        found.append(candidate)

    def _hold(self, cust: CustomerState, c: Candidate) -> tuple[HoldReason | None, str | None]:
        """The first reason this touchpoint will not be sent, in a fixed order."""
        occ, rule = c.occ, c.rule
        if occ.cancelled_by is not None:
            ev = occ.cancelled_by
            return HoldReason.CANCELLED, f"{ev.type} event {ev.id} at {ev.at.isoformat()}"
        if occ.invalid is not None:
            return HoldReason.INVALID_DATA, occ.invalid
        for condition in rule.conditions:
            try:
                if not evaluate(condition.compiled, c.context()):
                    return (
                        HoldReason.CONDITION_FALSE,
                        f"{rule.path}:{condition.line}: {condition.source}",
                    )
            except ConditionError as exc:
                return HoldReason.CONDITION_FALSE, f"{rule.path}:{condition.line}: {exc}"
        # The channel's address, suppressions and consent (touchflow.plan.channels).
        if len(rule.channels) == 1:  # the usual rule: one gate, nothing allocated
            held = GATES[rule.channel](cust.facts, rule)
        else:
            c.channel, held = choose(cust.facts, rule)
        if held is not None:
            return held
        if c.skipped is not None:
            return HoldReason.SKIPPED_HOLIDAY, c.skipped
        return None, None

    def _touchpoint(self, cust: CustomerState, c: Candidate) -> PlannedTouchpoint:
        rule, customer, channel = c.rule, cust.facts.customer, c.channel
        return _new_touchpoint(
            c.key,  # key
            rule.id,  # rule_id
            customer.id,  # customer_id
            c.occ.key,  # occurrence
            channel,  # channel: the first of the rule's the customer can receive
            rule.template,  # template
            rule.category,  # category
            rule.priority,  # priority
            c.due,  # due_at
            cust.zone.name,  # timezone
            Status.PLANNED if c.reason is None else Status.HELD,  # status
            c.reason,  # reason
            c.detail,  # detail
            c.adjustments,  # adjustments
            address_of(cust.facts, channel),  # to: e-mail address, phone number or None
            c.expires,  # expires_at
            c,  # context
        )
