"""Send what is due: claim rows, check them against a fresh plan, render, deliver, record.

One drain is a small pipeline. A producer claims a batch, has it prepared
(``touchflow.send.batch``: fresh plan, verdicts, messages; in the worker process
once a backlog makes one worth starting) and queues the messages, claiming the
next batch while these are prepared and go out. One sender per connection takes
a message and delivers it, but hands the server the message itself (after MAIL,
RCPT and DATA) only once the outcome of its last one is committed; outcomes that
finish together share one write (``touchflow.send.record``).

So a crash between the server's "250 OK" and the commit is the only way to
send twice, at most one message per connection, and the second copy carries
the same Message-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from touchflow import logs
from touchflow.channels import Channel, Delivery, Envelope
from touchflow.errors import TouchflowError
from touchflow.messages.dkim import DkimSigner
from touchflow.models import OutboxRow, OutboxState, Suppression, Transition
from touchflow.project import Project
from touchflow.send.batch import Prepared
from touchflow.send.dispatch_worker import Preparer
from touchflow.send.outbox import after_delivery
from touchflow.send.record import Recorder
from touchflow.store import Store

_Batch = tuple[Project, list[OutboxRow], int]  # claimed rows, and the limit they were claimed with
_Item = tuple[Project, Prepared]  # a message in the senders' queue
_WORKER_BATCHES = 16  # a batch for the worker is this many in-process batches
_WORKER_AFTER = 1  # full batches in a row before a worker is started
_AHEAD = 1.0  # seconds of sending a worker batch may hold, at the rate seen so far
_FIRST_WORKER_BATCHES = 4  # in-process batches in a worker batch before a rate is known


@dataclass(slots=True)
class Tally:
    """What dispatching did, by the state rows ended in."""

    states: Counter[OutboxState] = field(default_factory=Counter)

    def add(self, state: OutboxState) -> None:
        self.states[state] += 1

    def text(self) -> str:
        shown = [f"{n} {state.value}" for state, n in sorted(self.states.items()) if n]
        return ", ".join(shown) if shown else "nothing"


class ClaimLostError(TouchflowError):
    """An outcome was not recorded: another daemon had taken the claim back."""


class Dispatcher:
    def __init__(
        self,
        *,
        store: Store,
        channel: Channel,
        project: Callable[[], Project],
        clock: Callable[[], datetime],
        signer: DkimSigner | None = None,
        owner: str | None = None,
        batch: int | None = None,
        worker: bool | None = None,
    ) -> None:
        self.store = store
        self.channel = channel
        self.project = project
        self.clock = clock
        self.owner = owner or f"touchflow-{uuid.uuid4().hex[:12]}"
        # A claim's lease, fixed at start as the reclaim timer's period is (a reload
        # changing it half-way would let leases end between two renewals).
        self.lease = project().config.daemon.claim_timeout
        self.held: set[str] = set()  # keys claimed and not yet recorded: renewed by the daemon
        self._batch = batch
        self.preparer = Preparer(store, signer=signer, use=worker)
        self._random = random.Random()
        self.stopping = False

    async def drain(self, tally: Tally | None = None) -> Tally:
        """Dispatch until nothing more is ready (or we are stopping)."""
        run = _Drain(self, tally or Tally())
        try:
            await run.go()
        finally:
            await self.preparer.aclose()  # not kept between drains: it holds the facts it read
        return run.tally

    def batch_size(self, *, worker: bool = False) -> int:
        # Small enough that a claimed row is sent long before its claim times out
        # (8 rounds of `concurrency` sends), large enough to share one fresh plan.
        # The worker gets bigger ones: each costs a round trip to it.
        size = self._batch or max(8, self.channel.concurrency * 8)
        return size * _WORKER_BATCHES if worker and self._batch is None else size

    def jitter(self) -> float:
        return self._random.random()


class _Drain:
    """One drain: the producer, one sender per connection, and what is left when it stops."""

    def __init__(self, dispatcher: Dispatcher, tally: Tally) -> None:
        self.d = dispatcher
        self.tally = tally
        self.recorder = Recorder(
            dispatcher.store,
            owner=dispatcher.owner,
            clock=dispatcher.clock,
            group=max(1, dispatcher.channel.concurrency),
        )
        self.queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self.room = asyncio.Event()  # set when the queue is short enough to claim more
        self.low = dispatcher.batch_size(worker=False)
        self.halted = False  # a sender failed (or we were cancelled): no new sends
        self.left: list[Prepared] = []  # claimed, not sent: back to pending at the end
        self.taken_back = 0  # unsent rows not given back after a claim was lost: not ours
        self.started = time.monotonic()
        self.sends = 0  # messages handed to the channel so far
        self.senders = max(1, dispatcher.channel.concurrency)  # one per connection

    async def go(self) -> None:
        senders = [asyncio.create_task(self._sender()) for _ in range(self.senders)]
        errors: list[BaseException] = []
        try:
            await self._produce()
        except Exception as exc:  # what is queued still goes out; then it is raised
            errors.append(exc)
        except BaseException:  # cancelled: the sends under way end, nothing new starts
            self._halt()
            raise
        finally:
            for _ in senders:
                self.queue.put_nowait(None)
            results = await asyncio.gather(*senders, return_exceptions=True)
            errors += [r for r in results if isinstance(r, BaseException)]
            while not self.queue.empty():
                if (item := self.queue.get_nowait()) is not None:
                    self.left.append(item[1])
            try:
                await self._release()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]  # every send has ended; the timer's listener logs it

    def _going(self) -> bool:
        return not (self.d.stopping or self.halted)

    def _halt(self) -> None:
        self.halted = True
        self.room.set()

    async def _produce(self) -> None:
        preparer = self.d.preparer
        full_in_a_row = 0
        claiming: asyncio.Task[_Batch | None] | None = None
        try:
            batch = await self._claim()
            while batch is not None:
                project, rows, limit = batch
                if not self._going():  # stopping: a batch claimed ahead goes back
                    self.left.extend(Prepared(row=row) for row in rows)
                    break
                full_in_a_row = full_in_a_row + 1 if len(rows) == limit else 0
                if full_in_a_row >= _WORKER_AFTER:
                    preparer.want(project)
                # Claim the next batch while this one is prepared: both wait on other
                # threads (the store's, the worker's), and the senders must not run dry.
                if len(rows) == limit:
                    claiming = asyncio.create_task(self._claim())
                try:
                    prepared = await preparer.prepare(project, rows, self.d.clock())
                except BaseException:  # not sent: back to pending with the rest
                    self.left.extend(Prepared(row=row) for row in rows)
                    raise
                await self._enqueue(project, prepared)
                batch, claiming = (await claiming if claiming else None), None
        finally:
            if claiming is not None:  # stopped while claiming: those rows go back
                batch = await _settled(claiming)
                if batch is not None:
                    self.left.extend(Prepared(row=row) for row in batch[1])

    async def _claim(self) -> _Batch | None:
        """The next batch of ready rows, once the queue is short enough; None if none."""
        preparer = self.d.preparer
        # Claim the next batch while the queue still holds a whole one (two for the
        # worker, whose batches are bigger): preparing it takes about as long as
        # sending one.
        limit = self._limit(worker=preparer.ready)
        self.low = limit * (2 if preparer.ready else 1)
        while self.queue.qsize() >= self.low and self._going():
            self.room.clear()
            await self.room.wait()
        if not self._going():
            return None
        project = self.d.project()  # one project per batch, even if a reload lands
        rows = await self.d.store.claim_due(
            owner=self.d.owner, now=self.d.clock(), ttl=self.d.lease, limit=limit
        )
        self.d.held.update(row.key for row in rows)
        return (project, rows, limit) if rows else None

    def _limit(self, *, worker: bool) -> int:
        """How many rows to claim: the worker's batches are big (each is a round trip to
        it), but no bigger than about ``_AHEAD`` seconds of sending at the rate seen so
        far, so a slow server (a ``rate`` limit) still gets rows checked shortly before."""
        limit = self.d.batch_size(worker=worker)
        base = self.d.batch_size(worker=False)
        if limit == base:
            return limit
        if self.sends < base:  # no rate seen yet
            return min(limit, base * _FIRST_WORKER_BATCHES)
        rate = self.sends / max(time.monotonic() - self.started, 1e-3)
        return max(base, min(limit, int(rate * _AHEAD)))

    async def _enqueue(self, project: Project, prepared: list[Prepared]) -> None:
        ended = []
        for item in prepared:
            if item.envelope is None:  # cancelled, expired, suppressed, not buildable...
                ended.append(self._finish(item.row, item.row, attempted=False))
            elif self._going():
                self.queue.put_nowait((project, item))
            else:
                self.left.append(item)
        await asyncio.gather(*ended)

    async def _sender(self) -> None:
        last: asyncio.Task[None] | None = None  # this connection's last outcome, recording
        # The next item, taken from the queue before this one is sent so that the channel
        # can start on it (SMTP: its MAIL, RCPT and DATA leave with this message's dot).
        held: list[_Item | None] = []
        try:
            while (item := held.pop() if held else await self.queue.get()) is not None:
                if self.queue.qsize() < self.low:
                    self.room.set()
                if not self._going():
                    self._give_up(item)  # stopping: back to pending
                    continue
                # Only with work for every sender: a few rows go out side by side.
                if self.queue.qsize() >= self.senders:
                    held.append(self.queue.get_nowait())
                then = held[0][1].envelope if held and held[0] is not None else None
                try:
                    last = await self._deliver(*item, last, then)
                except ClaimLostError:  # this message was not sent; the rest go back too
                    self._give_up(item)
                    last = None
                except BaseException:
                    if item[1].envelope is not None:  # primed, maybe, and not sent
                        self.d.channel.unprime(item[1].envelope)
                    # Maybe sent: not released at once, nor renewed; its lease brings it back.
                    self.d.held.discard(item[1].row.key)
                    self._halt()
                    raise
        finally:
            for ahead in held:
                if ahead is not None:
                    self._give_up(ahead)
            if last is not None:
                with contextlib.suppress(ClaimLostError):  # logged, and the drain halted
                    await asyncio.shield(last)

    def _give_up(self, item: _Item) -> None:
        """Back to pending, unsent; the channel lets go of what it started for it."""
        self.left.append(item[1])
        if item[1].envelope is not None:
            self.d.channel.unprime(item[1].envelope)

    async def _deliver(
        self,
        project: Project,
        item: Prepared,
        last: asyncio.Task[None] | None,
        then: Envelope | None,
    ) -> asyncio.Task[None]:
        """Send one message and start recording its outcome (the task returned).

        The channel sends MAIL, RCPT and DATA while the last outcome of this connection
        is committed (or with the last message's end, pipelined), and the message itself
        only after: a crash leaves at most one message per connection accepted by the
        server, not recorded. ``then`` is the message this sender sends next.
        """
        row, envelope = item.row, item.envelope
        assert envelope is not None
        if last is not None and last.done():
            last.result()  # the last outcome could not be recorded: raise that, send nothing
            last = None
        # Shielded: a sender cancelled meanwhile must not cancel the last outcome's record.
        gate = None if last is None else asyncio.shield(last)
        delivery = await self.d.channel.send(envelope, after=gate, then=then)
        self.sends += 1
        if gate is not None:
            await gate  # done already, unless this message never got that far
        new, suppression = after_delivery(
            row,
            delivery,
            now=self.d.clock(),
            message_id=envelope.message_id,
            settings=project.config.daemon,
            jitter=self.d.jitter(),
        )
        if delivery.alert:
            self._alert(row, delivery)
        return asyncio.create_task(self._finish(row, new, attempted=True, suppression=suppression))

    def _alert(self, row: OutboxRow, delivery: Delivery) -> None:
        logs.log.error(
            "%s: %s needs attention: %s",
            row.key,
            self.d.channel.name,
            delivery.detail,
            extra={"tf": {"event": "alert", "key": row.key, "detail": delivery.detail}},
        )

    async def _release(self) -> None:
        left, self.left = self.left, []
        back = (dataclasses.replace(p.row, state=OutboxState.PENDING) for p in left)
        await asyncio.gather(*(self._finish(row, row, attempted=False) for row in back))
        if self.taken_back:
            logs.log.warning(
                "%d claimed touchpoint(s) were not sent and are no longer this daemon's "
                "(another daemon took its claims back): that daemon sends them",
                self.taken_back,
            )

    async def _finish(
        self,
        old: OutboxRow,
        new: OutboxRow,
        *,
        attempted: bool,
        suppression: Suppression | None = None,
    ) -> None:
        try:
            ok = await self.recorder.record(new, attempted=attempted, suppress=suppression)
        finally:
            self.d.held.discard(old.key)  # not renewed any more: its lease brings it back
        if ok:
            self.tally.add(new.state)
            logs.transition(Transition(row=new, old=OutboxState.CLAIMED))
            return
        if not attempted and self.halted:  # given back unsent after a claim was lost
            self.taken_back += 1
            return
        logs.log.warning(
            "%s: the claim was taken back before the outcome (%s) was recorded",
            old.key,
            new.state.value,
            extra={"tf": {"event": "lost_claim", "key": old.key}},
        )
        # Another daemon took it back: the others claimed with it likely went too. No
        # more of them is sent (the next message of this connection waits for this
        # record, so it is not sent either), and what is queued goes back.
        self._halt()
        if attempted:
            raise ClaimLostError(old.key)


async def _settled(task: asyncio.Task[_Batch | None]) -> _Batch | None:
    """What a claim that was under way when the producer stopped came back with."""
    try:
        return await asyncio.shield(task)
    except Exception:
        return None  # the producer's own error is the one raised
