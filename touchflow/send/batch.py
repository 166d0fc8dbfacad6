"""A claimed batch, made ready to send: a fresh plan, a verdict per row, the messages.

``prepare`` runs in the daemon's own process or in its worker process
(``touchflow.send.dispatch_worker``); either way it reads the store and writes
nothing. The dispatcher records what comes back and sends the envelopes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from functools import lru_cache

from touchflow.channels import Envelope, webhook_payload
from touchflow.headers import BARE_ADDRESS
from touchflow.messages.build import build
from touchflow.messages.dkim import DkimSigner
from touchflow.models import OutboxRow, OutboxState, PlannedTouchpoint, Status, Window
from touchflow.plan import unplannable
from touchflow.plan.candidates import sends_counted_from
from touchflow.plan.planner import plan
from touchflow.project import Project
from touchflow.send.outbox import Close, verdict
from touchflow.store import Store

_YIELD_EVERY = 8  # messages built between two turns of the event loop (in the daemon's process)


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """One claimed row: to send (with its envelope), or ended without sending."""

    # With an envelope: the row to send, with the fresh plan's expiry and address.
    # Without: the row as it ends (cancelled, expired, suppressed, failed to build,
    # or back to pending with a later due time).
    row: OutboxRow
    envelope: Envelope | None = None


async def prepare(
    project: Project,
    store: Store,
    rows: Sequence[OutboxRow],
    *,
    now: datetime,
    signer: DkimSigner | None,
) -> list[Prepared]:
    """Check ``rows`` against a fresh plan of their customers and build what is to be sent.

    ``now`` is the time of the check and the messages' Date header.
    """
    fresh = await fresh_plan(project, store, rows, now)
    done: list[Prepared] = []
    for row in rows:
        tp = fresh.get(row.key)
        if tp is None:  # the customer may have become unplannable: held, and why
            tp = fresh.get(unplannable.key_of(row.rule_id, row.customer_id))
        decision = verdict(row, tp, now=now)
        if isinstance(decision, Close):
            done.append(Prepared(row=decision.row))
            continue
        message = envelope(project, decision.row, decision.touchpoint, date=now)
        if isinstance(message, OutboxRow):
            done.append(Prepared(row=message))
            continue
        if signer is not None and message.channel == "email":
            # RSA in pure Python: 10-16 ms per message, kept off the event loop.
            signed = await asyncio.to_thread(signer.sign, message.data)
            message = dataclasses.replace(message, data=signed)
        done.append(Prepared(row=decision.row, envelope=message))
        if len(done) % _YIELD_EVERY == 0:
            await asyncio.sleep(0)  # let the sends in flight read their replies
    return done


async def fresh_plan(
    project: Project, store: Store, rows: Sequence[OutboxRow], now: datetime
) -> dict[str, PlannedTouchpoint]:
    """Plan the rows' customers again, around their due times, with today's facts."""
    config = project.config
    start = min(row.due_at for row in rows) - timedelta(days=1)
    window = Window(start=min(start, now), end=now + config.daemon.horizon)
    customers = {row.customer_id for row in rows}
    sent_since = sends_counted_from(window.start, config)
    facts = await store.load_facts(customer_ids=customers, sent_since=sent_since)
    wanted = {row.key for row in rows}
    planned = plan(project.rules, facts, window=window, config=config, now=now)
    return {
        tp.key: tp for tp in planned if tp.key in wanted or tp.occurrence == unplannable.OCCURRENCE
    }


def envelope(
    project: Project, row: OutboxRow, tp: PlannedTouchpoint, *, date: datetime
) -> Envelope | OutboxRow:
    """The message to send, or the row failed with why it cannot be built."""
    if tp.channel == "webhook":
        return _webhook(project, row, tp, date=date)
    if tp.channel == "sms":
        return _sms(project, row, tp, date=date)
    built = build(project, tp, date=date)
    if built.touchpoint.status is Status.HELD or built.email is None or tp.to is None:
        reason = built.touchpoint.reason.value if built.touchpoint.reason else "invalid_message"
        return dataclasses.replace(
            row, state=OutboxState.FAILED, reason=reason, last_error=built.touchpoint.detail
        )
    return Envelope(
        key=tp.key,
        sender=_bare(project.config.email.from_addr),
        recipient=tp.to if BARE_ADDRESS.fullmatch(tp.to) else parseaddr(tp.to)[1],
        data=built.email.data,
        message_id=built.email.message_id,
    )


def _webhook(
    project: Project, row: OutboxRow, tp: PlannedTouchpoint, *, date: datetime
) -> Envelope | OutboxRow:
    """The JSON body to post (the template rendered as for an email, not composed)."""
    built = build(project, dataclasses.replace(tp, to=None), date=date)
    if built.touchpoint.status is Status.HELD or built.message is None:
        reason = built.touchpoint.reason.value if built.touchpoint.reason else "render_error"
        return dataclasses.replace(
            row, state=OutboxState.FAILED, reason=reason, last_error=built.touchpoint.detail
        )
    return Envelope(
        key=tp.key,
        sender="",
        recipient="",
        data=webhook_payload.body(tp, built.message, sent_at=date),
        message_id=tp.key,  # the Idempotency-Key: the same on every attempt
        channel="webhook",
    )


def _sms(
    project: Project, row: OutboxRow, tp: PlannedTouchpoint, *, date: datetime
) -> Envelope | OutboxRow:
    """The text to send (sms.txt rendered) to the row's number (E.164)."""
    built = build(project, tp, date=date)
    message = built.message
    if built.touchpoint.status is Status.HELD or message is None or message.sms is None:
        reason = built.touchpoint.reason.value if built.touchpoint.reason else "render_error"
        detail = built.touchpoint.detail or f"template {tp.template!r} has no sms.txt"
        return dataclasses.replace(row, state=OutboxState.FAILED, reason=reason, last_error=detail)
    return Envelope(
        key=tp.key,
        sender="",
        recipient=tp.to or "",
        data=message.sms.encode("utf-8"),
        message_id=tp.key,  # Twilio keeps no idempotency key; the folder names files by it
        channel="sms",
    )


@lru_cache(maxsize=64)
def _bare(address: str) -> str:
    """The addr-spec of the From address: the same for every message."""
    return parseaddr(address)[1]
