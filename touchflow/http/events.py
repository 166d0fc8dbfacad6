"""``POST /v1/events``: one event, or ``{"events": [...]}``; all of a batch or none of it.

The fields and their checks are those of an events .jsonl import
(``touchflow.data.events``). On top: every customer must exist, and an id that is
already stored answers ``duplicate: true`` if it is the same event (a retry)
and 409 if it names a different one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from touchflow import logs
from touchflow.data.events import events_from_json
from touchflow.data.fields import FieldProblem
from touchflow.http.auth import require_token
from touchflow.http.errors import ApiError, JSONLine, fail, read_json
from touchflow.http.state import api_of
from touchflow.models import Event
from touchflow.rules.context import COMPLAINT_OPENED, COMPLAINT_RESOLVED
from touchflow.rules.schema import EventTrigger, Rule
from touchflow.store import EventsWrite


async def post_events(request: Request) -> Response:
    api = api_of(request)
    require_token(request, api.secrets.token)
    body = await read_json(request, limit=api.settings.max_body_bytes)
    items, batch = _items(body, api.settings.max_batch)
    project = api.engine.project
    indexed, problems = events_from_json(items, data_types=project.config.events)
    if problems:
        raise ApiError(422, "invalid_event", problems if batch else _unindexed(problems))
    events = [event for _, event in indexed]
    # Recorded at the daemon's clock (which `run --now` sets), as the customers' routes.
    outcome = await api.engine.store.add_events_checked(events, now=api.engine.clock.now())
    _refuse_unwritten(outcome, indexed, batch)
    if outcome.inserted:
        logs.log.info(
            "HTTP: %d event(s) recorded, %d already known",
            len(outcome.inserted), len(outcome.duplicates),
            extra={"tf": {"event": "api_events"}},
        )  # fmt: skip
        await api.replanner.replan()  # answer once the outbox shows it (or after a second)
    used = used_event_types(project.rules)
    results = [_result(e, e.id in outcome.duplicates, used) for e in events]
    if not batch:
        return JSONLine(results[0], status_code=200 if results[0]["duplicate"] else 201)
    return JSONLine(
        {
            "events": results,
            "inserted": len(outcome.inserted),
            "duplicates": len(outcome.duplicates),
        }
    )


def used_event_types(rules: Iterable[Rule]) -> frozenset[str]:
    """Types some rule triggers on, is updated or cancelled by; complaints feed
    ``customer.has_open_complaint``, which any rule may read."""
    used = {COMPLAINT_OPENED, COMPLAINT_RESOLVED}
    for rule in rules:
        if isinstance(rule.trigger, EventTrigger):
            used.update((rule.trigger.event, *rule.trigger.updates))
        used.update(cancel.event for cancel in rule.cancel_on)
    return frozenset(used)


def _items(body: Any, most: int) -> tuple[list[Any], bool]:
    """The events a body holds, and whether it was a batch."""
    if not isinstance(body, dict):
        raise fail(
            422, "invalid_event", None,
            'expected a JSON object: one event, or {"events": [...]} for a batch',
        )  # fmt: skip
    if "events" not in body:
        return [body], False
    extra = sorted(key for key in body if key != "events")
    if extra:
        raise fail(422, "invalid_event", extra[0], f'unknown key {extra[0]!r} next to "events"')
    items = body["events"]
    if not isinstance(items, list) or not items:
        raise fail(422, "invalid_event", "events", "events must be a non-empty list of events")
    if len(items) > most:
        raise fail(
            413, "too_many_events", "events",
            f"{len(items)} events in one request; at most {most} (http.max_batch)",
        )  # fmt: skip
    return items, True


def _refuse_unwritten(
    outcome: EventsWrite, indexed: Sequence[tuple[int, Event]], batch: bool
) -> None:
    """Nothing was written: 422 for a customer not in the store, 409 for an id that
    already names a different event."""
    where = {event.id: index for index, event in indexed}
    if outcome.unknown_customers:
        raise ApiError(422, "unknown_customer", _unknown(indexed, outcome.unknown_customers, batch))
    if outcome.conflicts:
        raise ApiError(
            409,
            "id_conflict",
            [
                _conflict(i, outcome.differences.get(i, ()), where[i] if batch else None)
                for i in outcome.conflicts
            ],
        )


def _unindexed(problems: Sequence[FieldProblem]) -> list[FieldProblem]:
    return [FieldProblem(field=p.field, message=p.message) for p in problems]


def _unknown(
    indexed: Sequence[tuple[int, Event]], customers: Sequence[str], batch: bool
) -> list[FieldProblem]:
    missing = set(customers)
    return [
        FieldProblem(
            field="customer",
            message=f"no customer {event.customer_id!r} in the store; "
            f"create it first with PUT /v1/customers/{event.customer_id}",
            index=index if batch else None,
        )
        for index, event in indexed
        if event.customer_id in missing
    ]


def _conflict(event_id: str, differences: Sequence[str], index: int | None) -> FieldProblem:
    message = (
        f"id {event_id!r} is already stored for a different event ({'; '.join(differences)}); "
        "event ids must be unique (repeat an event unchanged to retry it)"
    )
    return FieldProblem(field="id", message=message, index=index)


def _result(event: Event, duplicate: bool, used: frozenset[str]) -> dict[str, Any]:
    return {"id": event.id, "duplicate": duplicate, "unused": event.type not in used}
