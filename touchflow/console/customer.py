"""``/console/customers``: a search by id or e-mail, and ``/console/customers/{id}``: one
customer's attributes, events, suppressions and the `why` story of each touchpoint.

The story is ``customer_story``, as ``GET /v1/customers/{id}/why`` and `touchflow why`
tell it (the default periods: ``DEFAULT_PAST`` days back, ``DEFAULT_DAYS`` ahead).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from touchflow.console.render import redirect
from touchflow.console.visit import Visit
from touchflow.models import Customer
from touchflow.plan.moment import Moment
from touchflow.plan.trace_store import DEFAULT_DAYS, DEFAULT_PAST, customer_story, why_request
from touchflow.store import CANCELLABLE, REQUEUEABLE

EVENTS = 50  # the newest events shown; the page says how many there are
FOUND = 50  # customers listed for an e-mail address


async def search(visit: Visit) -> Response:
    text = visit.request.query_params.get("q", "").strip()
    store = visit.backing.engine.store
    found: list[Customer] = []
    if text:
        if await store.get_customer(text) is not None:
            return redirect(f"/console/customers/{quote(text, safe='')}")
        if "@" in text:
            found = await store.list_customers(limit=FOUND, email=text)
        if len(found) == 1:
            return redirect(f"/console/customers/{quote(found[0].id, safe='')}")
    return visit.show("search.html", title="Customers", q=text, found=found, most=FOUND)


async def customer_page(visit: Visit) -> Response:
    customer_id = visit.request.path_params["customer_id"]
    engine = visit.backing.engine
    project, store = engine.project, engine.store
    customer = await store.get_customer(customer_id)
    if customer is None:
        message = f"No customer {customer_id!r} in the store."
        return visit.show("problem.html", 404, title="No such customer", message=message)
    events, total = await store.customer_events(customer.id, limit=EVENTS)
    suppressions = [  # of the e-mail address and of the phone number (texted STOP, 21610)
        s
        for address in (customer.email, customer.phone)
        if address
        for s in await store.list_suppressions(email=address, limit=EVENTS)
    ]
    moment = Moment(instant=engine.clock.now(), timezone=visit.tz)
    why = why_request(project, customer.id, moment, days=DEFAULT_DAYS, past=DEFAULT_PAST)
    story = await customer_story(project, store, why)
    return visit.show(
        "customer.html", title=f"Customer {customer.id}", customer=customer,
        attributes=attributes(customer), events=events, total_events=total,
        json_text=json_text, suppressions=suppressions, story=story,
        requeueable={s.value for s in REQUEUEABLE}, cancellable={s.value for s in CANCELLABLE},
    )  # fmt: skip


def attributes(customer: Customer) -> list[tuple[str, str]]:
    """Every field of the customer (its own attributes after the standard ones) as text."""
    fields = asdict(customer)
    extra = fields.pop("attributes")
    shown = [(name, _text(value)) for name, value in fields.items() if name != "id"]
    return shown + [(name, _text(value)) for name, value in sorted(extra.items())]


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value if isinstance(value, str) else json_text(value)
