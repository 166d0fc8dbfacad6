"""A worker process of the daemon's full plan: id ranges, planned a page at a time.

The daemon (``touchflow.send.plan_share``) starts one per planning lane and asks it
for the pages of each id range the lane takes, one request, one reply, over its
stdin and stdout (length-prefixed pickles). For each page the worker reads the
store's ``changes_done``, then the customers' facts on its own connection to the
store (SQLite's WAL: a reader does not stop the daemon's writes), plans them and
replies with the outbox rows the plan wants (``touchflow.send.outbox.desired_rows``)
as plain tuples. It writes nothing: the
daemon reads the outbox and writes under its planning lock, as it does for a page
it plans itself.

The worker loads the project from its files and refuses to plan if what it
loaded is not byte for byte what the daemon runs (``Project.digest``). It plans
with the collector paused throughout (planning makes no reference cycles:
``test_planning_pages_makes_no_cycles``; in a process that does nothing else one
pause costs nothing). It ignores SIGINT and SIGTERM, which are the daemon's to
handle, and exits when its stdin closes: it never outlives the daemon.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import operator
import pickle
import signal
import struct
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from touchflow.builders import positional_builder
from touchflow.errors import ProblemsError
from touchflow.models import OutboxRow, Window
from touchflow.plan.candidates import sends_counted_from
from touchflow.plan.planner import Planner
from touchflow.project import Project, load_project_checked
from touchflow.send.outbox import desired_rows
from touchflow.store import IdRange, Store, open_store

HEADER = struct.Struct("!I")
# An outbox row on the pipe: its fields in declared order (pickling a slotted dataclass
# goes through ``dataclasses.fields()`` for every object; a tuple does not).
_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(OutboxRow))
_row_values = operator.attrgetter(*_ROW_FIELDS)
row_of = positional_builder(OutboxRow)
CUSTOMER_ID = _ROW_FIELDS.index("customer_id")  # where a packed row holds it
PackedRow = tuple[Any, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    """What one worker plans: the project (at ``digest``), the window, its id range."""

    root: str
    store: str
    digest: str
    window: Window
    now: datetime
    ids: IdRange
    page_size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedPage:
    """One page's plan as it travels: its customers' ids in order, how many touchpoints
    the planner made, and the rows it wants (``pack_rows``)."""

    customer_ids: list[str]
    touchpoints: int
    rows: list[PackedRow]
    floor: int  # the store's ``changes_done`` before the page was read


def pack_rows(rows: Sequence[OutboxRow]) -> list[PackedRow]:
    return [_row_values(row) for row in rows]


def unpack_rows(packed: Sequence[PackedRow]) -> list[OutboxRow]:
    return [row_of(*values) for values in packed]


class Stale(Exception):
    """The project's files are not the ones the daemon runs (a reload is under way)."""


class _Range:
    """The worker's side: one id range, read and planned a page at a time."""

    def __init__(self, assignment: Assignment) -> None:
        self.assignment = assignment
        self.after = assignment.ids[0]
        self.store: Store | None = None
        self.planner: Planner | None = None
        self.caps: dict[str, bool] = {}
        self.sent_since: datetime | None = None

    async def open(self) -> None:
        job = self.assignment
        project = _load(Path(job.root), job.digest)
        self.planner = Planner(project.rules, window=job.window, config=project.config, now=job.now)
        self.caps = {rule.id: rule.policies.caps for rule in project.rules}
        self.sent_since = sends_counted_from(job.window.start, project.config)
        self.store = await open_store(job.store)

    def restart(self, ids: IdRange) -> None:
        """Go on with another range, the project and the store as they are."""
        self.assignment = dataclasses.replace(self.assignment, ids=ids)
        self.after = ids[0]

    async def next_page(self) -> PlannedPage | None:
        """The next page of the range, planned; None once the range is done."""
        assert self.store is not None and self.planner is not None
        job = self.assignment
        floor = await self.store.changes_done()  # before the facts: see PlannedPage.floor
        facts = await self.store.facts_page(
            self.after, job.page_size, self.sent_since, up_to=job.ids[1]
        )
        if not facts:
            return None
        self.after = facts[-1].customer.id
        planned = self.planner.plan(facts)
        rows = pack_rows(desired_rows(planned, self.caps))
        return PlannedPage(
            customer_ids=[f.customer.id for f in facts],
            touchpoints=len(planned),
            rows=rows,
            floor=floor,
        )

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()


def _load(root: Path, digest: str) -> Project:
    try:
        project = load_project_checked(root)
    except ProblemsError:  # changed again, into something that does not validate
        raise Stale("the project's files do not validate now") from None
    if project.digest != digest:
        raise Stale("the project's files changed since the daemon loaded them")
    return project


async def _handle(state: dict[str, _Range], request: tuple[Any, ...]) -> tuple[str, Any]:
    """One request: ``("init", Assignment)``, ``("range", IdRange)`` (another range, the
    project kept) or ``("page",)``. A page's reply carries its
    last customer id beside the page, pickled apart: the daemon keeps the page as bytes
    until it writes it, and knows where the range got to without opening it."""
    try:
        if request[0] == "init":
            state["range"] = _Range(request[1])
            await state["range"].open()
            return "ok", None
        if request[0] == "range":
            state["range"].restart(request[1])
            return "ok", None
        page = await state["range"].next_page()
        if page is None:
            return "ok", None
        data = pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL)
        return "ok", (page.customer_ids[-1], len(page.customer_ids), data)
    except Stale as exc:
        return "stale", str(exc)
    except Exception:  # the daemon plans the rest of the range itself, and meets it there
        return "error", traceback.format_exc()


def read_message(stream: IO[bytes]) -> Any:
    """One length-prefixed pickle from ``stream``; None when it ended (the daemon is gone)."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # What the planner logs (a customer that cannot be planned) the daemon logs itself,
    # from the rows it gets (``touchflow.plan.unplannable``), in its own log format.
    logging.getLogger("touchflow").disabled = True
    gc.disable()
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries the replies: nothing else may print there
    state: dict[str, _Range] = {}
    loop = asyncio.new_event_loop()
    try:
        while (request := read_message(requests)) is not None:
            reply = loop.run_until_complete(_handle(state, request))
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
            replies.write(HEADER.pack(len(data)) + data)
            replies.flush()
    except BrokenPipeError:
        pass  # the daemon is gone
    finally:
        if "range" in state:
            loop.run_until_complete(state["range"].close())
        loop.close()


if __name__ == "__main__":
    main()
