"""Group commit of claim outcomes: what arrives while one write runs goes into the next.

A connection hands the server its next message only once the outcome of its
last one is committed, so a crash leaves at most one unrecorded message per
connection (docs/operations.md). Committing each outcome alone made every send wait for
three round trips to the store's thread; here the outcomes that finish while a
write is running share the next one, a single statement. A write also lingers
up to ``LINGER`` for the other connections' outcomes: a commit costs about the
same for one row as for four (the same pages are written), and the sends are
bound by CPU, not by waiting (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from touchflow import logs
from touchflow.errors import StoreError
from touchflow.models import OutboxRow, Suppression
from touchflow.store import Finish, Store

# A store busy past its own timeout (a huge import holds SQLite's write lock) is tried
# again after these pauses, doubling, for as long as it takes: see ``Recorder._write``.
RETRY_FIRST = 1.0
RETRY_MAX = 30.0
WARN_EVERY = 30.0  # seconds between two "still busy" lines for one write
LINGER = 0.002  # seconds a write waits for more outcomes, until it has ``group`` of them


class Recorder:
    """Records outcomes of rows claimed by ``owner``; safe to call from many tasks."""

    def __init__(
        self, store: Store, *, owner: str, clock: Callable[[], datetime], group: int = 1
    ) -> None:
        self._store = store
        self._owner = owner
        self._clock = clock
        self._group = group  # outcomes worth waiting for: one per connection
        self._waiting: list[tuple[Finish, asyncio.Future[bool]]] = []
        self._full = asyncio.Event()  # set when ``group`` outcomes wait
        self._writer: asyncio.Task[None] | None = None

    async def record(
        self, row: OutboxRow, *, attempted: bool, suppress: Suppression | None = None
    ) -> bool:
        """Commit ``row`` as the claim's outcome; False if the claim was taken back meanwhile.

        A store that fails (busy, or gone) is tried again until it commits (``_write``);
        what else goes wrong in the write is raised in every waiter of its group.
        """
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((Finish(row=row, attempted=attempted, suppress=suppress), done))
        if len(self._waiting) >= self._group:
            self._full.set()
        if self._writer is None:
            # A task of its own: a caller cancelled while waiting does not stop the write.
            self._writer = asyncio.create_task(self._write_all())
        return await done

    async def _write_all(self) -> None:
        group: list[tuple[Finish, asyncio.Future[bool]]] = []
        try:
            while self._waiting:
                if len(self._waiting) < self._group:
                    self._full.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._full.wait(), LINGER)
                group, self._waiting = self._waiting, []
                try:
                    recorded = await self._write([item for item, _ in group])
                except Exception as exc:  # every waiter raises it; nobody awaits this task
                    for _, done in group:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for (_, done), ok in zip(group, recorded, strict=True):
                    if not done.done():
                        done.set_result(ok)
        except BaseException:  # cancelled (the loop is closing): so are the waiters
            for _, done in [*group, *self._waiting]:
                done.cancel()
            raise
        finally:
            self._writer = None

    async def _write(self, group: list[Finish]) -> list[bool]:
        """``finish_claims``, tried until it commits. After the server said 250, giving up
        would leave the row claimed, to be taken back and sent a second time; while this
        daemon runs its claims keep their lease (renewed) and no daemon takes back a live
        owner's, so waiting is safe, and the senders wait with it: sending more than can
        be recorded would only widen what a crash could send twice."""
        pause, waited, warned = RETRY_FIRST, 0.0, -WARN_EVERY
        while True:
            try:
                done = await self._store.finish_claims(group, owner=self._owner, now=self._clock())
                return await self._already(group, done) if waited else done
            except StoreError as exc:
                if waited - warned >= WARN_EVERY:
                    warned = waited
                    _warn_busy(group, exc, waited)
                await asyncio.sleep(pause)
                waited += pause
                pause = min(pause * 2, RETRY_MAX)

    async def _already(self, group: list[Finish], done: list[bool]) -> list[bool]:
        """After a failed try: an outcome refused now may have been committed by that try,
        its reply lost with the connection. A row that already holds it was recorded."""
        missed = [item.row.key for item, ok in zip(group, done, strict=True) if not ok]
        if not missed:
            return done
        stored = await self._store.outbox_by_keys(missed)
        return [
            ok or _recorded(item.row, stored.get(item.row.key))
            for item, ok in zip(group, done, strict=True)
        ]


def _recorded(row: OutboxRow, stored: OutboxRow | None) -> bool:
    """Whether ``stored`` already holds the outcome ``row`` (a commit whose reply was lost)."""
    return (
        stored is not None
        and stored.claim_owner is None
        and (stored.state, stored.reason, stored.message_id, stored.sent_at)
        == (row.state, row.reason, row.message_id, row.sent_at)
    )


def _warn_busy(group: list[Finish], exc: StoreError, waited: float) -> None:
    keys = ", ".join(item.row.key for item in group[:3])
    more = f" and {len(group) - 3} more" if len(group) > 3 else ""
    since = f" (for {waited:.0f} s now; sending waits)" if waited else ""
    logs.log.warning("%s; recording %s%s again%s", exc, keys, more, since)
