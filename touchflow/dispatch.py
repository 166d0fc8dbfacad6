"""Send what is due: claim rows, check them against a fresh plan, render, deliver, record.

Every claimed row leaves the claim through ``finish_claim`` — sent, retry,
failed, expired, cancelled, suppressed or back to pending — one transaction
each. A crash between the server's "250 OK" and that transaction is the only
way to send twice, and the second copy carries the same Message-ID.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

from touchflow import logs
from touchflow.channels import Channel, Envelope
from touchflow.dkim import DkimSigner
from touchflow.errors import StoreError
from touchflow.messages import build
from touchflow.models import (
    OutboxRow,
    OutboxState,
    PlannedTouchpoint,
    Status,
    Suppression,
    Window,
)
from touchflow.outbox import Close, Transition, after_delivery, verdict
from touchflow.planner import plan
from touchflow.project import Project
from touchflow.store.sqlite import SqliteStore

_RECORD_TRIES = 6  # a store busy for ~30 s (a huge import) must not turn a send into two


@dataclass(slots=True)
class Tally:
    """What dispatching did, by the state rows ended in."""

    states: Counter[OutboxState] = field(default_factory=Counter)

    def add(self, state: OutboxState) -> None:
        self.states[state] += 1

    def text(self) -> str:
        shown = [f"{n} {state.value}" for state, n in sorted(self.states.items()) if n]
        return ", ".join(shown) if shown else "nothing"


class Dispatcher:
    def __init__(
        self,
        *,
        store: SqliteStore,
        channel: Channel,
        project: Callable[[], Project],
        clock: Callable[[], datetime],
        signer: DkimSigner | None = None,
        owner: str | None = None,
        batch: int | None = None,
    ) -> None:
        self.store = store
        self.channel = channel
        self._project = project
        self._clock = clock
        self._signer = signer
        self.owner = owner or f"touchflow-{uuid.uuid4().hex[:12]}"
        self._batch = batch
        self._random = random.Random()
        self.stopping = False

    async def drain(self, tally: Tally | None = None) -> Tally:
        """Dispatch batches until nothing more is ready (or we are stopping)."""
        tally = tally or Tally()
        while not self.stopping:
            claimed = await self.dispatch_batch(tally)
            if claimed < self._batch_size():
                break
        return tally

    def _batch_size(self) -> int:
        # Small enough that a claimed row is sent long before its claim times out
        # (8 rounds of `concurrency` sends), large enough to share one fresh plan.
        return self._batch or max(8, self.channel.concurrency * 8)

    async def dispatch_batch(self, tally: Tally) -> int:
        now = self._clock()
        project = self._project()  # one project per batch, even if a reload lands meanwhile
        rows = await self.store.claim_due(
            owner=self.owner,
            now=now,
            ttl=project.config.daemon.claim_timeout,
            limit=self._batch_size(),
        )
        if not rows:
            return 0
        fresh = await self._fresh_plan(project, rows, now)
        sends: list[tuple[OutboxRow, PlannedTouchpoint]] = []
        for row in rows:
            decision = verdict(row, fresh.get(row.key), now=now)
            if isinstance(decision, Close):
                await self._finish(row, decision.row, tally, attempted=False)
            else:
                sends.append((decision.row, decision.touchpoint))
        limit = asyncio.Semaphore(max(1, self.channel.concurrency))
        results = await asyncio.gather(
            *(self._send(project, row, tp, limit, tally) for row, tp in sends),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result  # every send has ended; the timer's listener logs it
        return len(rows)

    async def _fresh_plan(
        self, project: Project, rows: Sequence[OutboxRow], now: datetime
    ) -> dict[str, PlannedTouchpoint]:
        """Plan the claimed rows' customers again, around their due times, with today's facts."""
        config = project.config
        longest_cap = max((cap.per for cap in config.caps), default=timedelta(0))
        start = min(row.due_at for row in rows) - timedelta(days=1)
        window = Window(start=min(start, now), end=now + config.daemon.horizon)
        customers = {row.customer_id for row in rows}
        facts = await self.store.load_facts(
            customer_ids=customers, sent_since=window.start - longest_cap
        )
        wanted = {row.key for row in rows}
        planned = plan(project.rules, facts, window=window, config=config)
        return {tp.key: tp for tp in planned if tp.key in wanted}

    async def _send(
        self,
        project: Project,
        row: OutboxRow,
        tp: PlannedTouchpoint,
        limit: asyncio.Semaphore,
        tally: Tally,
    ) -> None:
        # The outcome is committed before the slot is given back: a crash can leave at
        # most `concurrency` messages accepted by the server but not yet recorded.
        async with limit:
            if self.stopping:  # shutting down: what has not started goes back to pending
                back = dataclasses.replace(row, state=OutboxState.PENDING)
                await self._finish(row, back, tally, attempted=False)
                return
            await self._deliver(project, row, tp, tally)

    async def _deliver(
        self, project: Project, row: OutboxRow, tp: PlannedTouchpoint, tally: Tally
    ) -> None:
        envelope = self._envelope(project, row, tp)
        if not isinstance(envelope, Envelope):
            await self._finish(row, envelope, tally, attempted=False)
            return
        if self._signer is not None:
            # RSA in pure Python: 10-16 ms per message, kept off the event loop.
            signed = await asyncio.to_thread(self._signer.sign, envelope.data)
            envelope = dataclasses.replace(envelope, data=signed)
        delivery = await self.channel.send(envelope)
        new, suppression = after_delivery(
            row,
            delivery,
            now=self._clock(),
            message_id=envelope.message_id,
            settings=project.config.daemon,
            jitter=self._random.random(),
        )
        if delivery.alert:
            logs.log.error(
                "%s: %s needs attention: %s",
                tp.key,
                self.channel.name,
                delivery.detail,
                extra={"tf": {"event": "alert", "key": tp.key, "detail": delivery.detail}},
            )
        await self._finish(row, new, tally, attempted=True, suppression=suppression)

    def _envelope(
        self, project: Project, row: OutboxRow, tp: PlannedTouchpoint
    ) -> Envelope | OutboxRow:
        """The message to send, or the row failed with why it cannot be built."""
        email = project.config.email
        built = build(project, tp, date=self._clock())
        if built.touchpoint.status is Status.HELD or built.email is None or tp.to is None:
            reason = built.touchpoint.reason.value if built.touchpoint.reason else "invalid_message"
            return dataclasses.replace(
                row, state=OutboxState.FAILED, reason=reason, last_error=built.touchpoint.detail
            )
        return Envelope(
            key=tp.key,
            sender=parseaddr(email.from_addr)[1],
            recipient=parseaddr(tp.to)[1],
            data=built.email.data,
            message_id=built.email.message_id,
        )

    async def _finish(
        self,
        old: OutboxRow,
        new: OutboxRow,
        tally: Tally,
        *,
        attempted: bool,
        suppression: Suppression | None = None,
    ) -> None:
        ok = await self._record(new, attempted=attempted, suppression=suppression)
        if ok:
            tally.add(new.state)
            logs.transition(Transition(row=new, old=OutboxState.CLAIMED))
        else:
            logs.log.warning(
                "%s: the claim was taken back before the outcome (%s) was recorded",
                old.key,
                new.state.value,
                extra={"tf": {"event": "lost_claim", "key": old.key}},
            )

    async def _record(
        self, new: OutboxRow, *, attempted: bool, suppression: Suppression | None
    ) -> bool:
        """``finish_claim``, retried while the store is busy: after the server said 250,
        giving up here would leave the row claimed and send it a second time."""
        for attempt in range(_RECORD_TRIES):
            try:
                return await self.store.finish_claim(
                    new,
                    owner=self.owner,
                    now=self._clock(),
                    attempted=attempted,
                    suppress=suppression,
                )
            except StoreError:
                if attempt == _RECORD_TRIES - 1:
                    raise
                logs.log.warning("the store is busy; recording %s again", new.key)
                await asyncio.sleep(1)
        raise AssertionError("unreachable")
