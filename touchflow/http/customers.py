"""``PUT /v1/customers/{id}`` (create or replace) and ``DELETE`` (erasure).

A PUT body holds the fields of a customers .jsonl line (checked the same way);
``id`` may be left out, and must match the path if given. A PUT replaces the
whole customer: a field left out is cleared.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from touchflow import logs
from touchflow.data.customers import customer_from_json
from touchflow.http.auth import require_token
from touchflow.http.errors import ApiError, JSONLine, fail, read_json
from touchflow.http.state import api_of


async def put_customer(request: Request) -> Response:
    api = api_of(request)
    require_token(request, api.secrets.token)
    customer_id = _path_id(request)
    body = await read_json(request, limit=api.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise fail(
            422, "invalid_customer", None, "expected a JSON object with the customer's fields"
        )
    if "id" in body and not _same_id(body["id"], customer_id):
        raise fail(
            422, "invalid_customer", "id",
            f"id {body['id']!r} in the body is not the id {customer_id!r} in the URL",
        )  # fmt: skip
    config = api.engine.project.config
    customer, problems = customer_from_json(
        {**body, "id": customer_id}, attribute_types=config.customer_attributes,
        country=config.country,
    )  # fmt: skip
    if problems or customer is None:
        raise ApiError(422, "invalid_customer", problems)
    store = api.engine.store
    created = await store.get_customer(customer_id) is None
    await store.upsert_customers([customer], now=api.engine.clock.now())
    await api.replanner.replan()
    return JSONLine({"id": customer_id, "created": created}, status_code=201 if created else 200)


async def delete_customer(request: Request) -> Response:
    """Erase a customer: their data, events and unsent touchpoints; their suppressions stay,
    hashed. No planning run overlaps it, so none can write the customer back."""
    api = api_of(request)
    require_token(request, api.secrets.token)
    # Not held to the id alphabet (touchflow.ids), which the PUT body's checks apply:
    # a customer stored before ids were checked can still be erased.
    customer_id = _path_id(request)
    async with api.engine.exclusive():
        erased = await api.engine.store.erase_customer(customer_id)
    if erased is None:
        raise fail(404, "unknown_customer", "id", f"no customer {customer_id!r} in the store")
    await api.replanner.replan()  # the next due row may have been theirs: wake the dispatcher
    logs.log.info(
        "HTTP: erased customer %s (%d events, %d unsent touchpoints; %d suppressions kept hashed)",
        customer_id, erased.events, erased.touchpoints_deleted, erased.suppressions_hashed,
        extra={"tf": {"event": "erased", "customer": customer_id}},
    )  # fmt: skip
    return JSONLine(
        {
            "id": customer_id,
            "erased": True,
            "events": erased.events,
            "touchpoints_deleted": erased.touchpoints_deleted,
            "touchpoints_kept": erased.touchpoints_kept,
            "suppressions_hashed": erased.suppressions_hashed,
        }
    )


def _same_id(given: object, customer_id: str) -> bool:
    # As in a .jsonl import, a JSON number is taken as text.
    if type(given) is int:
        given = str(given)
    return isinstance(given, str) and given.strip() == customer_id


def _path_id(request: Request) -> str:
    customer_id = str(request.path_params["customer_id"])
    if not customer_id.strip() or customer_id != customer_id.strip():
        raise fail(
            422, "invalid_customer", "id",
            f"customer id {customer_id!r} must be non-empty, without spaces around it",
        )  # fmt: skip
    return customer_id
