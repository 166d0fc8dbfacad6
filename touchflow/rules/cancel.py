"""``cancel_on``: the events that hold an event rule's touchpoints as cancelled.

Two forms, mixed freely in one list::

    cancel_on: [appointment_cancelled]                    # the same occurrence only
    cancel_on: [{event: complaint_opened, match: customer}]  # any of the customer's

The first matches by the occurrence key (the cancellation names the same
appointment); the second cancels every occurrence the customer has when the
event arrives, whatever it names (a new complaint stops the follow-up of an
older one).
"""

from __future__ import annotations

from typing import Any

from touchflow.checks import Collector, described, did_you_mean
from touchflow.config.project_config import ProjectConfig
from touchflow.errors import shown
from touchflow.rules.schema import CancelMatch, CancelOn, EventTrigger
from touchflow.yamlload import LineDict, LineList

MATCHES = tuple(m.value for m in CancelMatch)
_FORMS = "an event type, a list of them, or {event: <type>, match: customer}"


def read_cancel_on(doc: LineDict, out: Collector) -> tuple[CancelOn, ...]:
    """The ``cancel_on`` entries of a rule, in order; problems go to ``out``."""
    if "cancel_on" not in doc:
        return ()
    raw = doc["cancel_on"]
    items = raw if isinstance(raw, list) else [raw]
    found: list[CancelOn] = []
    for i, item in enumerate(items):
        line = _line(raw, i, doc.line_of("cancel_on"))
        cancel = _entry(item, line, out)
        if cancel is None:
            continue
        if any(c.event == cancel.event for c in found):
            out.add(line, f"cancel_on lists {cancel.event!r} twice; list each event type once")
            continue
        found.append(cancel)
    return tuple(found)


def _entry(item: Any, line: int, out: Collector) -> CancelOn | None:
    if isinstance(item, str) and item.strip():
        return CancelOn(event=item.strip())
    if not isinstance(item, LineDict):
        what = shown(item) if isinstance(item, list) else described(item)
        out.add(line, f"cancel_on must be {_FORMS}, not {what}")
        return None
    before = len(out.problems)
    out.check_keys(item, ("event", "match"), where="a cancel_on entry", required=("event",))
    event = None
    if "event" in item:
        event = out.text(item["event"], item.line_of("event"), what="cancel_on event")
    match = item.get("match", CancelMatch.OCCURRENCE.value)
    if match not in MATCHES:
        out.add(
            item.line_of("match"),
            f"cancel_on match must be one of {', '.join(MATCHES)}, not "
            f"{match!r}{did_you_mean(str(match), MATCHES)} (occurrence: the event names the "
            "same occurrence; customer: any such event of the customer)",
        )
    if event is None or len(out.problems) > before:
        return None
    return CancelOn(event=event, match=CancelMatch(match))


def _line(raw: Any, index: int, default: int) -> int:
    if not isinstance(raw, LineList):
        return default
    item = raw[index]
    # A mapping entry's own line: where its first key is, even in a block list.
    return item.line if isinstance(item, LineDict) else raw.line_of(index)


def check_cancel_on(
    cancel_on: tuple[CancelOn, ...], trig: EventTrigger, doc: LineDict, config: ProjectConfig,
    out: Collector,
) -> None:  # fmt: skip
    """Checks against the trigger and the declared event types (a sound rule's entries:
    one for each item of ``doc["cancel_on"]``, in order)."""
    raw = doc["cancel_on"] if cancel_on else None
    field = trig.occurrence[2] if trig.occurrence[:2] == ("event", "data") else None
    for i, cancel in enumerate(cancel_on):
        line = _line(raw, i, doc.line_of("cancel_on"))
        name = cancel.event
        if name in trig.updates:
            out.add(line, f"{name!r} is under both updates and cancel_on: an event type "
                          "either moves an occurrence or cancels it")  # fmt: skip
        elif cancel.match is CancelMatch.OCCURRENCE:
            _check_by_occurrence(name, line, trig, field, config, out)
        if config.events and name not in config.events:
            out.add(
                line,
                f"event type {name!r} is not declared under events: in "
                f"touchflow.yaml{did_you_mean(name, config.events)}",
            )


def _check_by_occurrence(
    name: str, line: int, trig: EventTrigger, field: str | None, config: ProjectConfig,
    out: Collector,
) -> None:  # fmt: skip
    customer_form = f"{{event: {name}, match: customer}}"
    if name == trig.event:
        out.add(
            line,
            f"cancel_on {name!r} is the trigger's own event type: each would cancel the "
            f"occurrence it starts; to let a later {name} replace the earlier ones, write "
            f"{customer_form}",
        )
    elif field is None:
        out.add(
            line,
            "updates and cancel_on match events by the occurrence key: set "
            "trigger.occurrence to event.data.<field> (e.g. event.data.appointment_id), "
            f"or cancel every occurrence of the customer: {customer_form}",
        )
    elif name in config.events and field not in config.events[name]:
        out.add(
            line,
            f"event {name!r} declares no {field!r}, so it cannot name the "
            f"occurrence to update or cancel: declare {field} under events.{name}, "
            f"or cancel every occurrence of the customer: {customer_form}",
        )
