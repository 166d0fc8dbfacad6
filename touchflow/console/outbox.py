"""``/console/outbox``: counts by state, failures with the server's reply, what is due next,
rows filtered by state, rule and customer, a retry button (``POST /console/outbox/retry``) and
a cancel button (``POST /console/outbox/cancel``).

The rows are the store's ``list_outbox`` (by due time, then key), ``SHOWN`` a page; the
next page starts after the last row shown (``after``: its due time and key, in the
query string), so a deep page costs what the first does, by index, at a million rows.
The counts by state read the whole (state, due_at) index (about 100 ms at a million
rows): they are kept ``COUNTS_AGE`` and counted again in the background when older,
the page saying when they were counted; a retry counts them again at its next view.
A retry is `touchflow retry`'s: ``store.requeue``, logged naming the key and "console"; a
cancel is `touchflow cancel`'s (``touchflow.send.hand_cancel``), logged the same way.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from starlette.responses import Response

from touchflow import logs
from touchflow.console.render import redirect
from touchflow.console.visit import Visit
from touchflow.errors import StoreError, TouchflowError
from touchflow.models import OutboxRow, OutboxState
from touchflow.send import hand_cancel
from touchflow.store import CANCELLABLE, REQUEUEABLE, Store

SHOWN = 100
FAILURES = 20
DUE_NEXT = 10
RETRY_KEEPS = timedelta(days=1)  # as `touchflow retry`: a re-queued row may go out a day
COUNTS_AGE = timedelta(seconds=30)
MAX_KEY = 512  # characters of the key in ``after``: far above any key touchflow writes


class StateCounts:
    """``outbox_counts`` kept a while, per app; counted again in a task when older."""

    def __init__(self) -> None:
        self._kept: tuple[datetime, dict[OutboxState, int]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def get(self, store: Store, now: datetime) -> tuple[datetime, dict[OutboxState, int]]:
        """The counts and when they were counted (now, the first time and after ``forget``)."""
        if self._kept is None:
            self._kept = (now, await store.outbox_counts())
        elif now - self._kept[0] >= COUNTS_AGE and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._count(store, now))
        return self._kept

    def forget(self) -> None:
        self._kept = None

    async def _count(self, store: Store, now: datetime) -> None:
        try:
            self._kept = (now, await store.outbox_counts())
        except StoreError as exc:  # the page keeps the last counts; health says why
            logs.log.warning("console: counting the outbox by state failed: %s", exc)


class BadPage(TouchflowError):
    """A query string the outbox page cannot read: a 400 page naming the value."""


async def outbox_page(counts: StateCounts, visit: Visit) -> Response:
    query = visit.request.query_params
    state, rule, customer = query.get("state", ""), query.get("rule", ""), query.get("customer", "")
    rules = [r.id for r in visit.backing.engine.project.rules]
    states = [s.value for s in OutboxState]
    try:
        if state not in ("", *states) or rule not in ("", *rules):
            raise BadPage(
                f"state must be one of {', '.join(states)}; rule one of {', '.join(rules)}."
            )
        after = read_after(query.get("after_due"), query.get("after_key"))
    except BadPage as exc:
        return visit.show("problem.html", 400, title="Outbox", message=str(exc))
    store = visit.backing.engine.store
    counted_at, by_state = await counts.get(store, visit.backing.engine.clock.now())
    rows = await store.list_outbox(
        states=[OutboxState(state)] if state else (), customer_id=customer or None,
        rule_id=rule or None, after=after, limit=SHOWN + 1,
    )  # fmt: skip
    filters = {"state": state, "rule": rule, "customer": customer}
    last = rows[SHOWN - 1] if len(rows) > SHOWN else None
    failures = await newest_failures(store)
    return visit.show(
        "outbox.html", title="Outbox", counts=by_state, counted_at=counted_at, states=states,
        rules=rules, state=state, rule=rule, customer=customer, rows=rows[:SHOWN],
        next_page=None if last is None else page_link(filters, (last.due_at, last.key)),
        first_page=None if after is None else page_link(filters, None), failures=failures,
        due=await store.list_outbox(states=(OutboxState.PENDING,), limit=DUE_NEXT),
        requeueable={s.value for s in REQUEUEABLE}, retried=query.get("retried"),
        cancellable={s.value for s in CANCELLABLE}, cancelled=query.get("cancelled"),
    )  # fmt: skip


async def newest_failures(store: Store) -> list[OutboxRow]:
    """The newest ``FAILURES`` failed and retrying rows: a state at a time, each read on
    the (state, due_at) index from its end (both at once would sort every failed row)."""
    found = [
        row
        for state in (OutboxState.FAILED, OutboxState.RETRY)
        for row in await store.list_outbox(states=(state,), newest_first=True, limit=FAILURES)
    ]
    found.sort(key=lambda row: row.key)
    found.sort(key=lambda row: row.due_at, reverse=True)
    return found[:FAILURES]


def read_after(due: str | None, key: str | None) -> tuple[datetime, str] | None:
    """The keyset of ``?after_due=…&after_key=…``: both or neither, the time with its zone."""
    if due is None and key is None:
        return None
    if not due or not key or len(key) > MAX_KEY:
        raise BadPage(
            f"after_due and after_key go together: a time and a key of at most {MAX_KEY} "
            "characters (follow the page's own “Next page” link)."
        )
    try:
        when = datetime.fromisoformat(due)
    except ValueError:
        raise BadPage(f"after_due {due!r} is not a time like 2026-12-06T14:00:00+00:00.") from None
    if when.utcoffset() is None:
        raise BadPage(f"after_due {due!r} has no time zone (end it in +00:00).")
    return when, key


def page_link(filters: dict[str, str], after: tuple[datetime, str] | None) -> str:
    """The outbox page of these filters, from its first row or after ``after``."""
    fields = {name: value for name, value in filters.items() if value}
    if after is not None:
        fields.update(after_due=after[0].isoformat(), after_key=after[1])
    return "/console/outbox?" + urlencode(fields) if fields else "/console/outbox"


async def retry(counts: StateCounts, visit: Visit) -> Response:
    key = visit.form.get("key", "")
    engine = visit.backing.engine
    before = (await engine.store.outbox_by_keys([key])).get(key) if key else None
    if before is None:
        message = f"No touchpoint {key!r} in the outbox."
        return visit.show("problem.html", 404, title="Retry", message=message)
    if before.state not in REQUEUEABLE:
        message = (
            f"{key} is {before.state.value}; only failed, expired or cancelled touchpoints "
            "can be re-queued."
        )
        return visit.show("problem.html", 409, title="Retry", message=message)
    after = await engine.store.requeue(key, now=engine.clock.now(), keep_for=RETRY_KEEPS)
    if after is None or after.state is not OutboxState.PENDING:  # it changed meanwhile
        now_in = after.state.value if after else "gone"
        message = f"{key} changed meanwhile (it is {now_in} now); nothing was re-queued."
        return visit.show("problem.html", 409, title="Retry", message=message)
    counts.forget()
    was = before.state.value + (f": {before.reason}" if before.reason else "")
    by = _client(visit)
    logs.log.info(
        "console: re-queued %s (was %s) from %s", key, was, by,
        extra={"tf": {"event": "retry", "key": key, "client": by}},
    )  # fmt: skip
    visit.backing.replanner.request()  # plans the customer again and wakes the dispatcher
    return redirect(f"/console/outbox?retried={quote(key, safe='')}")


async def cancel(counts: StateCounts, visit: Visit) -> Response:
    """A pending or retrying touchpoint cancelled by hand: 404 for no such key, 409 for one
    being sent or already ended (the page says why); nothing changes then."""
    key = visit.form.get("key", "")
    engine = visit.backing.engine
    try:
        done = await hand_cancel.cancel(engine.store, key, now=engine.clock.now(), where="console")
    except hand_cancel.CancelRefused as exc:
        status = 404 if exc.row is None else 409
        return visit.show("problem.html", status, title="Cancel", message=f"{exc}.")
    if done.cancelled:
        counts.forget()
        was = hand_cancel.was(done.before)
        by = _client(visit)
        logs.log.info(
            "console: cancelled %s (was %s) from %s", key, was, by,
            extra={"tf": {"event": "cancel", "key": key, "client": by}},
        )  # fmt: skip
    return redirect(f"/console/outbox?cancelled={quote(key, safe='')}")


def _client(visit: Visit) -> str:
    """Who asked, for the audit line: the connection's address."""
    client = visit.request.client
    return client.host if client else "unknown"
