"""Planning on a store: which customers changed, and a full plan shared out in id ranges
that planners take one at a time.

The daemon that plans (the lead) starts a run of id ranges; every daemon of the
store whose project is the same, the lead included, takes ranges, plans them a page
at a time and writes each page itself, recording how far it got
(``advance_plan_range``). A range is held under a lease; one whose holder's lease
ended (or, where the store can tell, whose daemon is gone) is taken by the next
planner, from where it got to. A run started later replaces the ranges of an earlier
one: its planners find their range gone at their next page, and stop.

A page is read outside the planning turn and written under it, so between the two a
re-plan of changed customers may have written newer plans: ``changes_done`` (read
before the page) and ``replanned_after`` (asked under the turn, before writing) say whom
to leave out, and the re-plan's changes are kept while a run is under way
(``drop_changes(keep=True)``) so that the question has an answer. A change still pending
when the page is written needs nothing: its re-plan comes after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

CHANGES_DONE = "changes_done"  # meta: the last seq given to ``drop_changes``
# Customer ids (after, up to]: "" is before every id, None after every id.
IdRange = tuple[str, str | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RangeTaken:
    """A range of a run, as a planner took it: planned and written up to ``cursor``."""

    run: str
    lo: str  # the range is (lo, hi]; lo names it within its run
    hi: str | None
    cursor: str

    @property
    def rest(self) -> IdRange:
        """What is left of it to plan."""
        return (self.cursor, self.hi)


class PlanRunsStore(Protocol):
    async def start_plan_run(self, run_id: str, ranges: Sequence[IdRange]) -> None:
        """Share out a full plan: these id ranges, none taken yet. Any earlier run's ranges
        are dropped (its planners stop at their next page). A store several daemons share
        tells them (``wake_ups`` gives ``"plan"``)."""
        ...

    async def take_plan_range(
        self, run_id: str, *, me: str, now: datetime, until: datetime, owners_gone: bool = False
    ) -> RangeTaken | None:
        """A range of ``run_id`` not done and not being planned (never taken, or its
        holder's lease ended before ``now``), now held by ``me`` until ``until``; None when
        there is none. ``owners_gone``: also one whose holder is gone, where the store can
        tell (PostgreSQL: its daemon's instance lock is not held)."""
        ...

    async def advance_plan_range(
        self, taken: RangeTaken, *, me: str, cursor: str, done: bool, until: datetime
    ) -> bool:
        """Record that ``me`` wrote the range up to ``cursor`` (``done``: all of it), its
        lease renewed to ``until``. False, changing nothing, if the range is not ``me``'s
        now (taken back, or its run replaced or ended): plan no more of it."""
        ...

    async def plan_ranges_left(self, run_id: str) -> int:
        """How many of ``run_id``'s ranges are not done (0 also when the run is not there)."""
        ...

    async def end_plan_run(self, run_id: str) -> None:
        """Forget ``run_id``'s ranges."""
        ...


class ChangesStore(Protocol):
    """Which customers' facts changed since the daemon last planned them.

    Every write that changes a customer's facts records a change, whoever writes
    (CLI, HTTP, the daemon itself): a new or changed customer, a new event, a
    suppression on their address, a suppression lifted, a row re-queued."""

    async def pending_changes(self, *, limit: int) -> tuple[int, set[str] | None]:
        """``(last seq, customer ids)``: each changed customer once; ids None when more
        than ``limit`` changed (plan everyone); ``(0, set())`` when nothing changed."""
        ...

    async def drop_changes(self, upto: int, *, keep: bool = False) -> None:
        """The changes up to ``upto`` (a seq ``pending_changes`` gave; never past the last
        change recorded) are planned: no longer pending, later ones still are. ``keep``:
        their rows stay for ``replanned_after`` (a shared full plan is under way) until a
        later call without it."""
        ...

    def planning_turn(self, *, shared: bool = False) -> AbstractAsyncContextManager[None]:
        """Held while one planning step reads the outbox and writes it (a re-plan of
        changes, an erasure): no other process of this store plans meanwhile. ``shared``:
        a page of a full plan shared out, which other processes' pages (of other
        customers) may share, but no step held alone. A store one daemon holds alone
        (SQLite) needs none; PostgreSQL takes an advisory lock, waiting for it."""
        ...

    def wake_ups(self) -> AsyncIterator[str]:
        """What other processes commit, as it is committed: ``"changes"`` (a customer's
        facts changed) or ``"ready"`` (the plan wrote rows). A store that cannot tell
        ends at once: the daemon's ``watch`` timer polls. A lost connection to the store
        raises ``StoreError``; the caller starts again."""
        ...

    async def changes_done(self) -> int:
        """The last seq ``drop_changes`` was given (0: none): a page read after this call
        holds every change up to it."""
        ...

    async def replanned_after(self, customer_ids: Collection[str], seq: int) -> set[str]:
        """Those of ``customer_ids`` with a change after ``seq`` that was planned since
        (given to ``drop_changes``): a page read when ``changes_done`` was ``seq`` holds
        older facts of them than their plan now. (A change still pending is planned after
        the page is written.)"""
        ...
