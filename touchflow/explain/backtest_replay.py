"""`touchflow backtest`'s replay of one customer: what the daemon would have sent.

The daemon plans a customer again whenever the store learns something new of theirs
(an event recorded, a suppression added, the customer imported), and sends what is
due and still planned. So between two such moments a customer's plan cannot change,
and the replay plans each customer once per moment, with only what the store knew
then:

- an event counts from its ``recorded_at`` (stored before touchflow kept it: from its
  ``at``); a suppression from its ``created_at`` (unknown: throughout); the customer
  from their ``created_at`` (unknown: throughout); or, ``as_happened``, each event from
  its ``at`` and the rest throughout;
- a touchpoint planned and due before the next moment is sent when it is due, once;
- one planned at a moment after it was due (a late event) is sent at that moment, as
  the daemon catches up, unless it expired or is older than ``daemon.catch_up``: then
  it is *late* (the daemon could not have sent it);
- what it sends counts towards the caps of what comes later, as sends do.

The attributes, consent and addresses are the customer's as they are now, and the
sends before the period are the outbox's (docs/explain.md says what that cannot know).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from touchflow.collector import collector_paused
from touchflow.config.project_config import ProjectConfig
from touchflow.models import (
    Category,
    CustomerFacts,
    Event,
    HoldReason,
    KnownSince,
    PlannedTouchpoint,
    SentRecord,
    Status,
    Window,
)
from touchflow.plan.planner import Planner
from touchflow.rules.schema import Rule

_CHECK_BACK = timedelta(days=1)  # the check before a send plans from a day before it was due
_PLANNERS = 4096  # check planners kept, one per window
_AS_HAPPENED = KnownSince()  # nothing recorded: events from their ``at``, the rest throughout
# An outbox row's expiry when the planner gave none (as touchflow.send.outbox does).
_NO_EXPIRY = timedelta(days=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """The replayed period ``[start, end)``, and how far back the daemon catches up.
    ``as_happened``: each event counts from when it happened (its ``at``), every customer
    and suppression throughout, as if touchflow had run all along (a store filled lately
    by an import of older history); otherwise each counts from when it was recorded."""

    start: datetime
    end: datetime
    catch_up: timedelta
    as_happened: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WouldSend:
    """A touchpoint the daemon would have sent at ``send_at`` (its due time or, caught
    up, the moment the store learnt what planned it); ``late``: it would not, since that
    moment came after it expired or more than ``daemon.catch_up`` after it was due."""

    key: str
    rule_id: str
    customer_id: str
    category: Category
    due_at: datetime
    send_at: datetime
    late: bool = False


class SendCheck:
    """The daemon's check before a send (``touchflow.send.batch.fresh_plan``): the
    customer planned again when the send is made, over ``[due - 1 day, then + horizon)``.
    Only the frequency caps can decide otherwise there than in the replay's plan of the
    whole period, since only they weigh other touchpoints, and the daemon weighs only
    those of its window: not one that went unsent long before, nor one beyond its
    horizon. So a touchpoint a cap could hold is checked in the daemon's window."""

    def __init__(self, rules: Sequence[Rule], config: ProjectConfig) -> None:
        self._rules, self._config = rules, config
        self._most: dict[Category, int] = {}  # the smallest cap of each category
        for cap in config.caps:
            self._most[cap.category] = min(cap.max, self._most.get(cap.category, cap.max))
        self._planners: dict[tuple[datetime, datetime], Planner] = {}

    def crowded(
        self, planned: Sequence[PlannedTouchpoint], sent: Sequence[SentRecord]
    ) -> frozenset[Category]:
        """The categories in which a cap could hold something in some window: those with
        more touchpoints (planned or capped, and sent) than their smallest cap allows.
        In the others every touchpoint fits in any window, as the planner finds too."""
        found = Counter(s.category for s in sent)
        found.update(tp.category for tp in planned if _rival(tp))
        return frozenset(c for c, n in found.items() if n > self._most.get(c, n))

    def planned(self, tp: PlannedTouchpoint, then: datetime, facts: CustomerFacts) -> bool:
        """Whether the check at ``then`` plans ``tp`` (to send it)."""
        start = min(tp.due_at - _CHECK_BACK, then)
        end = then + self._config.daemon.horizon
        planner = self._planners.get((start, end))
        if planner is None:
            if len(self._planners) >= _PLANNERS:
                self._planners.clear()
            window = Window(start=start, end=end)
            planner = Planner(self._rules, window=window, config=self._config, now=then)
            self._planners[start, end] = planner
        found = (p for p in planner.plan([facts]) if p.key == tp.key)
        return any(p.status is Status.PLANNED for p in found)


@dataclass(slots=True)
class _Replay:
    """One customer's replay so far: what went out, and what counts for the caps."""

    period: Period
    counts_for_caps: Mapping[str, bool]
    check: SendCheck
    facts: CustomerFacts
    known: KnownSince
    moments: list[datetime]
    sent: list[SentRecord]
    done: set[str]
    found: dict[str, WouldSend] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        facts: CustomerFacts,
        known: KnownSince,
        period: Period,
        counts_for_caps: Mapping[str, bool],
        check: SendCheck,
        sent_before: Collection[str],
    ) -> _Replay:
        if period.as_happened:
            known = _AS_HAPPENED
            facts = replace(facts, customer=replace(facts.customer, created_at=None))
        before = [s for s in facts.sent if s.due_at < period.start]
        moments = _moments(facts, known, period)
        return cls(period, counts_for_caps, check, facts, known, moments, before,
                   {s.key for s in before} | set(sent_before))  # fmt: skip

    def facts_at(self, i: int) -> CustomerFacts | None:
        """The facts of the i-th moment (None: not a customer yet)."""
        return _known_at(self.facts, self.known, self.moments[i], self.sent)

    def take(self, i: int, planned: Sequence[PlannedTouchpoint]) -> None:
        """What the plan made at the i-th moment sends before the next one."""
        moment = self.moments[i]
        until = self.moments[i + 1] if i + 1 < len(self.moments) else self.period.end
        crowded = self.check.crowded(planned, self.sent)
        for tp in planned:
            self._take(tp, moment, until, crowded)

    def _take(
        self, tp: PlannedTouchpoint, moment: datetime, until: datetime, crowded: Set[Category]
    ) -> None:
        if tp.key in self.done or not self.period.start <= tp.due_at < until:
            return  # sent already; before the period, or decided by a later moment's plan
        counts = self.counts_for_caps.get(tp.rule_id, True)
        check = counts and tp.category in crowded  # a cap could decide it otherwise
        if tp.status is not Status.PLANNED and not (check and tp.reason is HoldReason.CAPPED):
            return
        late = tp.due_at < moment and (
            tp.due_at < moment - self.period.catch_up
            or (tp.expires_at or tp.due_at + _NO_EXPIRY) <= moment
        )
        created = self.facts.customer.created_at
        if late and (tp.status is not Status.PLANNED or (created and tp.due_at < created)):
            # Held by a cap anyway; or due before the customer came: no daemon could
            # have sent it, nor missed it.
            return
        then = max(tp.due_at, moment)
        if check and not late:
            facts = _known_at(self.facts, self.known, moment, self.sent)
            if facts is None or not self.check.planned(tp, then, facts):
                return  # the check before the send holds it (a cap, in the daemon's window)
        send = WouldSend(
            key=tp.key, rule_id=tp.rule_id, customer_id=tp.customer_id, category=tp.category,
            due_at=tp.due_at, send_at=then, late=late,
        )  # fmt: skip
        self.found[tp.key] = send
        if late:
            return  # a later moment's plan cannot make it less late
        self.done.add(tp.key)
        if counts:
            self.sent.append(SentRecord(key=tp.key, customer_id=tp.customer_id,
                                        category=tp.category, due_at=tp.due_at,
                                        channel=tp.channel))  # fmt: skip


class Customer(NamedTuple):
    """One customer to replay: their facts now, when the store learnt them, and the keys
    the outbox shows sent before the period (whatever their category: each is sent once)."""

    facts: CustomerFacts
    known: KnownSince
    sent_before: Collection[str] = ()


def _rival(tp: PlannedTouchpoint) -> bool:
    return tp.status is Status.PLANNED or tp.reason is HoldReason.CAPPED


def replay_page(
    planner: Planner,
    page: Sequence[Customer],
    period: Period,
    counts_for_caps: Mapping[str, bool],
    check: SendCheck,
) -> list[WouldSend]:
    """What the daemon would have sent these customers in ``period`` (and what it would
    have been too late for), each customer's in time order. ``planner`` plans
    ``[period.start, period.end)``; the facts hold everything the store knows now, and
    their sends. The period's start is planned for the whole page at once; each later
    moment for its customer alone."""
    with collector_paused():  # see touchflow.collector: the replay makes no cycles
        replays = [
            _Replay.of(c.facts, c.known, period, counts_for_caps, check, c.sent_before)
            for c in page
        ]
        first = [facts for r in replays if (facts := r.facts_at(0)) is not None]
        planned: dict[str, list[PlannedTouchpoint]] = {}
        for tp in planner.plan(first):
            planned.setdefault(tp.customer_id, []).append(tp)
        found: list[WouldSend] = []
        for replay in replays:
            replay.take(0, planned.get(replay.facts.customer.id, []))
            for i in range(1, len(replay.moments)):
                then = replay.facts_at(i)
                if then is not None:
                    replay.take(i, planner.plan([then]))
            found += sorted(replay.found.values(), key=lambda s: (s.send_at, s.key))
    return found


def _moments(facts: CustomerFacts, known: KnownSince, period: Period) -> list[datetime]:
    """The period's start and each moment in it at which the store learnt something new."""
    learnt = {period.start}
    for moment in _learnt(facts, known):
        if period.start < moment < period.end:
            learnt.add(moment)
    return sorted(learnt)


def _learnt(facts: CustomerFacts, known: KnownSince) -> Iterator[datetime]:
    if facts.customer.created_at is not None:
        yield facts.customer.created_at
    for event in facts.events:
        yield _event_known(event, known)
    for scope in facts.suppressed:
        since = known.suppressions.get(scope)
        if since is not None:
            yield since
    for scope in facts.suppressed_phone:
        since = known.phone_suppressions.get(scope)
        if since is not None:
            yield since


def _event_known(event: Event, known: KnownSince) -> datetime:
    recorded = known.events.get(event.id)
    return event.at if recorded is None else recorded


def _known_at(
    facts: CustomerFacts, known: KnownSince, moment: datetime, sent: Sequence[SentRecord]
) -> CustomerFacts | None:
    """The facts as the store held them at ``moment`` (None: the customer was not there)."""
    created = facts.customer.created_at
    if created is not None and created > moment:
        return None
    events = tuple(e for e in facts.events if _event_known(e, known) <= moment)
    suppressed = frozenset(
        scope for scope in facts.suppressed
        if (since := known.suppressions.get(scope)) is None or since <= moment
    )  # fmt: skip
    by_phone = frozenset(
        scope for scope in facts.suppressed_phone
        if (since := known.phone_suppressions.get(scope)) is None or since <= moment
    )  # fmt: skip
    return replace(
        facts, events=events, suppressed=suppressed, sent=tuple(sent), suppressed_phone=by_phone
    )
