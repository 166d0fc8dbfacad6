"""``/console/message?customer=…&key=…``: one touchpoint's message as it would go out,
and ``/console/message/html?…``: its HTML part alone, for the page's sandboxed iframe.

The page shows the headers and the text part as text (escaped, like everything the
console shows) and the HTML part in an ``<iframe sandbox>`` with an empty sandbox
attribute (no script, no form, no same-origin). The iframe's document is served with
its own policy, ``HTML_HEADERS``: nothing loads but inline styles and ``data:`` images,
and the browser sandboxes it even if it is opened on its own. Customer data is
untrusted and a template may output it raw: a ``<script>`` in it never runs.
"""

from __future__ import annotations

from starlette.responses import Response

from touchflow.console.message_view import MessageView, message_view
from touchflow.console.visit import Visit
from touchflow.plan.trace_store import DEFAULT_DAYS, DEFAULT_PAST

HTML_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"
HTML_HEADERS = {
    "Content-Security-Policy": HTML_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def message_page(visit: Visit) -> Response:
    found = await _view(visit)
    if isinstance(found, Response):
        return found
    tp = found.touchpoint
    return visit.show(
        "message.html", title=f"Message {tp.key}", view=found, tp=tp,
        customer_id=tp.customer_id, now=visit.backing.engine.clock.now(),
    )  # fmt: skip


async def message_html(visit: Visit) -> Response:
    found = await _view(visit)
    if isinstance(found, Response):
        return found
    if found.html is None:
        return Response("This message has no HTML part.", 404, HTML_HEADERS, "text/plain")
    return Response(found.html, 200, HTML_HEADERS, "text/html; charset=utf-8")


async def _view(visit: Visit) -> MessageView | Response:
    """The view the query names, or the page that says why there is none."""
    query = visit.request.query_params
    customer, key = query.get("customer", ""), query.get("key", "")
    if not customer or not key:
        message = "Name the touchpoint: /console/message?customer=<id>&key=<key>."
        return visit.show("problem.html", 400, title="Which message?", message=message)
    engine = visit.backing.engine
    if await engine.store.get_customer(customer) is None:
        message = f"No customer {customer!r} in the store."
        return visit.show("problem.html", 404, title="No such customer", message=message)
    view = await message_view(engine, customer, key)
    if view is None:
        message = (
            f"Customer {customer!r} has no touchpoint {key!r} in the plan of the past "
            f"{DEFAULT_PAST} days and the next {DEFAULT_DAYS} (an outbox row the plan no "
            "longer makes has no message)."
        )
        return visit.show("problem.html", 404, title="No such touchpoint", message=message)
    return view
