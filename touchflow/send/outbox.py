"""The outbox's rules, as pure functions: plan → rows, rows → writes, delivery → next state.

The daemon reads rows, asks these functions what should change, and writes
the answer in one transaction. Nothing here touches the store or the clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from touchflow.builders import builder
from touchflow.channels import Delivery, Outcome
from touchflow.config.daemon import DaemonSettings
from touchflow.models import (
    HoldReason,
    OutboxRow,
    OutboxState,
    PlannedTouchpoint,
    Status,
    Suppression,
    SuppressionScope,
    Transition,
)

# A held touchpoint becomes SUPPRESSED when the recipient said no (or cannot be
# reached), CANCELLED when the plan dropped it. Both come back to PENDING if a
# later plan sends it after all (consent given, a booking revived); one a person
# cancelled (``held_by_hand``) does not: only `touchflow retry` lifts that.
_SUPPRESSING = frozenset({HoldReason.SUPPRESSED, HoldReason.NO_CONSENT, HoldReason.NO_ADDRESS})
_REVISABLE = (OutboxState.PENDING, OutboxState.CANCELLED, OutboxState.SUPPRESSED)
NOT_PLANNED = "not_planned"
RULE_REMOVED = "rule_removed"
EXPIRED = "expired"
REQUEUED = "requeued"  # set by `touchflow retry`

# A full plan makes one per touchpoint (1.76M for a million customers over 30 days).
_new_row = builder(OutboxRow)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanWrites:
    inserts: list[OutboxRow]
    updates: list[tuple[OutboxRow, OutboxState]]  # (new row, state it must still be in)
    transitions: list[Transition]


def desired_rows(
    touchpoints: Iterable[PlannedTouchpoint], counts_for_caps: Mapping[str, bool]
) -> list[OutboxRow]:
    """The outbox as the plan would have it, one row per touchpoint."""
    rows = []
    for tp in touchpoints:
        if tp.status is Status.PLANNED:
            state, reason = OutboxState.PENDING, None
        else:
            assert tp.reason is not None
            held = OutboxState.SUPPRESSED if tp.reason in _SUPPRESSING else OutboxState.CANCELLED
            state, reason = held, tp.reason.value
        rows.append(
            _new_row(
                key=tp.key,
                rule_id=tp.rule_id,
                customer_id=tp.customer_id,
                category=tp.category,
                counts_for_caps=counts_for_caps.get(tp.rule_id, True),
                state=state,
                due_at=tp.due_at,
                expires_at=tp.expires_at or tp.due_at + timedelta(days=1),
                next_attempt_at=tp.due_at,
                reason=reason,
                last_error=tp.detail if reason else None,
                to=tp.to,
                channel=tp.channel,
            )
        )
    return rows


def plan_writes(
    desired: Sequence[OutboxRow],
    existing: Mapping[str, OutboxRow],
    vanished: Iterable[tuple[OutboxRow, str, str]],
    *,
    now: datetime,
) -> PlanWrites:
    """What re-planning changes. Sent, failed, expired and claimed rows are never touched.

    ``vanished``: open rows the plan no longer has, with a reason and words for it.
    """
    writes = PlanWrites(inserts=[], updates=[], transitions=[])
    for want in desired:
        have = existing.get(want.key)
        if have is None:
            _insert(writes, want, now)
        else:
            _revise(writes, have, want, now)
    for row, reason, detail in vanished:
        if row.state in (OutboxState.PENDING, OutboxState.RETRY):
            new = dataclasses.replace(
                row, state=OutboxState.CANCELLED, reason=reason, last_error=detail
            )
            writes.updates.append((new, row.state))
            writes.transitions.append(Transition(row=new, old=row.state))
    return writes


def _insert(writes: PlanWrites, want: OutboxRow, now: datetime) -> None:
    if want.state is OutboxState.PENDING and want.expires_at <= now:
        # Came due and expired before anything planned it (the daemon was down
        # longer than the touchpoint lives): recorded, never silently dropped.
        want = dataclasses.replace(
            want,
            state=OutboxState.EXPIRED,
            reason=EXPIRED,
            last_error=(
                f"due {_text(want.due_at)}, expired {_text(want.expires_at)} "
                "before it was planned (was the daemon stopped?)"
            ),
        )
    writes.inserts.append(want)
    writes.transitions.append(Transition(row=want, old=None))


def _revise(writes: PlanWrites, have: OutboxRow, want: OutboxRow, now: datetime) -> None:
    if have.held_by_hand:
        return  # `touchflow cancel` (or the console's Cancel): a person's word holds
    if have.state is OutboxState.RETRY:
        if want.state is OutboxState.PENDING:
            # Keep retrying, but never before the (possibly moved) due time.
            want = dataclasses.replace(
                want,
                state=OutboxState.RETRY,
                next_attempt_at=max(have.next_attempt_at, want.due_at),
                reason=have.reason,
                last_error=have.last_error,
            )
    elif _moved_past_expiry(have, want, now):
        pass  # expired, but the occurrence moved later (a rescheduled appointment): send it
    elif have.state not in _REVISABLE:
        return  # sent, failed, expired or being sent: history is not rewritten
    elif have.reason == REQUEUED and want.state is OutboxState.PENDING:
        # An operator's `touchflow retry`: keep its fresh expiry and "now".
        want = dataclasses.replace(
            want,
            expires_at=max(have.expires_at, want.expires_at),
            next_attempt_at=have.next_attempt_at,
            reason=REQUEUED,
            last_error=have.last_error,
        )
    elif want.state is OutboxState.PENDING and have.state is not OutboxState.PENDING:
        if want.expires_at <= now:
            return  # too late to revive; it stays as it was
    if _same(have, want):
        return
    writes.updates.append((want, have.state))
    if want.state is not have.state:
        writes.transitions.append(Transition(row=want, old=have.state))


def _moved_past_expiry(have: OutboxRow, want: OutboxRow, now: datetime) -> bool:
    """An expired row whose occurrence now lies later and is worth sending again.

    Never sent, so sending it cannot duplicate anything: the reminder of an
    appointment that was moved after its first reminder expired.
    """
    return (
        have.state is OutboxState.EXPIRED
        and want.state is OutboxState.PENDING
        and want.due_at > have.due_at
        and want.expires_at > now
    )


def _same(a: OutboxRow, b: OutboxRow) -> bool:
    fields = ("state", "due_at", "expires_at", "next_attempt_at", "reason", "to", "category")
    if a.channel != b.channel:
        return False
    return all(getattr(a, f) == getattr(b, f) for f in (*fields, "counts_for_caps")) and (
        a.last_error == b.last_error or a.state is OutboxState.RETRY
    )


# --- at send time ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    touchpoint: PlannedTouchpoint
    row: OutboxRow  # the claimed row with the fresh plan's expiry and address


@dataclass(frozen=True, slots=True, kw_only=True)
class Close:
    """Not sent: the row ends (or goes back to pending) with this state and reason."""

    row: OutboxRow


Verdict = Send | Close


def verdict(row: OutboxRow, tp: PlannedTouchpoint | None, *, now: datetime) -> Verdict:
    """A claimed row checked against a fresh plan of its customer, just before sending.

    Facts may have changed since the row was planned (a cancellation, an
    unsubscribe, a moved appointment): the fresh plan wins.
    """
    if tp is None:
        if row.expires_at <= now:
            return Close(row=expired(row, now))
        detail = "no longer in the plan: the rule, the customer or their events changed"
        return Close(row=_ended(row, OutboxState.CANCELLED, NOT_PLANNED, detail))
    if tp.status is Status.HELD:
        assert tp.reason is not None
        state = OutboxState.SUPPRESSED if tp.reason in _SUPPRESSING else OutboxState.CANCELLED
        return Close(row=_ended(row, state, tp.reason.value, tp.detail))
    expires = tp.expires_at or row.expires_at
    if row.reason == REQUEUED:  # `touchflow retry` gave it extra time
        expires = max(expires, row.expires_at)
    if expires <= now:
        return Close(row=expired(dataclasses.replace(row, expires_at=expires), now))
    if tp.due_at > now:
        later = dataclasses.replace(
            row,
            expires_at=expires,
            state=OutboxState.PENDING,
            due_at=tp.due_at,
            next_attempt_at=tp.due_at,
        )
        return Close(row=later)
    # By the channel the fresh plan chose: a fallback's may have changed since (consent to
    # texts withdrawn: the e-mail instead), and with it the address.
    fresh = dataclasses.replace(row, expires_at=expires, to=tp.to, channel=tp.channel)
    return Send(touchpoint=tp, row=fresh)


def expired(row: OutboxRow, now: datetime) -> OutboxRow:
    late = now - row.due_at
    detail = (
        f"due {_text(row.due_at)}, expired {_text(row.expires_at)}; not sent "
        f"({_late(late)} late{_after(row)})"
    )
    return _ended(row, OutboxState.EXPIRED, EXPIRED, detail)


def _after(row: OutboxRow) -> str:
    if not row.attempts:
        return ""
    return f", after {row.attempts} attempt(s); last error: {row.last_error}"


def _ended(row: OutboxRow, state: OutboxState, reason: str, detail: str | None) -> OutboxRow:
    return dataclasses.replace(row, state=state, reason=reason, last_error=detail)


def after_delivery(
    row: OutboxRow,
    delivery: Delivery,
    *,
    now: datetime,
    message_id: str,
    settings: DaemonSettings,
    jitter: float,
) -> tuple[OutboxRow, Suppression | None]:
    """The row after one delivery attempt, and a suppression to record with it (5.1.x)."""
    attempts = row.attempts + 1
    if delivery.outcome is Outcome.SENT:
        sent = dataclasses.replace(
            row, state=OutboxState.SENT, attempts=attempts, sent_at=now, message_id=message_id,
            reason=None, last_error=None,
        )  # fmt: skip
        return sent, None
    if delivery.outcome is Outcome.RETRY:
        wait = backoff(attempts, settings, jitter)
        if delivery.retry_after is not None:  # the receiver asked: not sooner (HTTP 429, 503)
            wait = max(wait, timedelta(seconds=delivery.retry_after))
        if now + wait >= row.expires_at:
            gave_up = dataclasses.replace(
                row, attempts=attempts, last_error=delivery.detail, message_id=message_id
            )
            return expired(gave_up, now), None
        retry = dataclasses.replace(
            row, state=OutboxState.RETRY, attempts=attempts, next_attempt_at=now + wait,
            reason="temporary_failure", last_error=delivery.detail, message_id=message_id,
        )  # fmt: skip
        return retry, None
    return _failed(row, delivery, attempts=attempts, now=now, message_id=message_id)


def _failed(
    row: OutboxRow, delivery: Delivery, *, attempts: int, now: datetime, message_id: str
) -> tuple[OutboxRow, Suppression | None]:
    """A permanent failure; a bad mailbox (or a number that said STOP) is also suppressed,
    for everything sent to it."""
    failed = dataclasses.replace(
        row, state=OutboxState.FAILED, attempts=attempts, message_id=message_id,
        reason="bad_mailbox" if delivery.outcome is Outcome.BAD_MAILBOX else "rejected",
        last_error=delivery.detail,
    )  # fmt: skip
    if delivery.outcome is Outcome.BAD_MAILBOX and row.to:
        # A text's "bad mailbox" is a number whose owner replied STOP (Twilio 21610).
        said = "unsubscribed" if row.channel == "sms" else "bounced"
        reason = f"{said}: {delivery.detail}"[:500]
        suppression = Suppression(
            email=row.to, scope=SuppressionScope.ALL, reason=reason, created_at=now
        )
        return failed, suppression
    return failed, None


def backoff(attempts: int, settings: DaemonSettings, jitter: float) -> timedelta:
    """Exponential from ``retry_first``, capped at ``retry_max``; ``jitter`` in [0, 1) spreads
    each wait over its upper half, so a burst of failures does not retry in lockstep."""
    base = settings.retry_first
    for _ in range(max(attempts - 1, 0)):
        if base >= settings.retry_max:
            break
        base *= 2
    base = min(base, settings.retry_max)
    return base / 2 + base / 2 * jitter


def _late(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def _text(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M UTC")
