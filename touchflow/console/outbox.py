"""``/console/outbox``: counts by state, failures with the server's reply, what is due next,
rows filtered by state, rule and customer, and a retry button (``POST /console/outbox/retry``).

The rows are the store's ``list_outbox`` (by due time, then key), up to ``SHOWN``; a
rule filter is applied to the first ``SCANNED`` rows of the other filters, and the page
says so. (Keyset pagination past them needs a store query: the next slice.)
A retry is `touchflow retry`'s: ``store.requeue``, logged naming the key and "console".
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from starlette.responses import Response

from touchflow import logs
from touchflow.console.render import redirect
from touchflow.console.visit import Visit
from touchflow.models import OutboxState
from touchflow.store import REQUEUEABLE

SHOWN = 100
SCANNED = 5000
FAILURES = 20
DUE_NEXT = 10
RETRY_KEEPS = timedelta(days=1)  # as `touchflow retry`: a re-queued row may go out a day


async def outbox_page(visit: Visit) -> Response:
    query = visit.request.query_params
    state, rule, customer = query.get("state", ""), query.get("rule", ""), query.get("customer", "")
    rules = [r.id for r in visit.backing.engine.project.rules]
    states = [s.value for s in OutboxState]
    if state not in ("", *states) or rule not in ("", *rules):
        message = f"state must be one of {', '.join(states)}; rule one of {', '.join(rules)}."
        return visit.show("problem.html", 400, title="Outbox", message=message)
    store = visit.backing.engine.store
    rows = await store.list_outbox(
        states=[OutboxState(state)] if state else (), customer_id=customer or None,
        limit=SCANNED if rule else SHOWN + 1,
    )  # fmt: skip
    if rule:
        rows = [row for row in rows if row.rule_id == rule]
    failures = await store.list_outbox(
        states=(OutboxState.FAILED, OutboxState.RETRY), newest_first=True, limit=FAILURES
    )
    return visit.show(
        "outbox.html", title="Outbox", counts=await store.outbox_counts(), states=states,
        rules=rules, state=state, rule=rule, customer=customer, rows=rows[:SHOWN],
        more=len(rows) > SHOWN, shown_most=SHOWN, scanned=SCANNED, failures=failures,
        due=await store.list_outbox(states=(OutboxState.PENDING,), limit=DUE_NEXT),
        requeueable={s.value for s in REQUEUEABLE}, retried=query.get("retried"),
    )  # fmt: skip


async def retry(visit: Visit) -> Response:
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
    await engine.store.requeue(key, now=engine.clock.now(), keep_for=RETRY_KEEPS)
    was = before.state.value + (f": {before.reason}" if before.reason else "")
    logs.log.info(
        "console: re-queued %s (was %s)", key, was, extra={"tf": {"event": "retry", "key": key}}
    )
    visit.backing.replanner.request()  # plans the customer again and wakes the dispatcher
    return redirect(f"/console/outbox?retried={quote(key, safe='')}")
