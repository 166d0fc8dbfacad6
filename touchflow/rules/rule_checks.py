"""Checks of a read rule that need the whole rule and the project's declarations."""

from __future__ import annotations

from touchflow import calendars
from touchflow.checks import Collector, did_you_mean
from touchflow.config.project_config import ProjectConfig
from touchflow.models import FieldType
from touchflow.rules.cancel import check_cancel_on
from touchflow.rules.schema import CronTrigger, EventTrigger, HolidayTrigger, Rule
from touchflow.yamlload import LineDict


def check_rule(rule: Rule, doc: LineDict, config: ProjectConfig, out: Collector) -> None:
    """Checks that need the whole rule and the project's declarations."""
    trig = rule.trigger
    trig_doc = doc["trigger"]
    if isinstance(trig, EventTrigger):
        _check_event_types(trig, doc, config, out)
        check_cancel_on(rule.cancel_on, trig, doc, config, out)
        _check_event_paths(trig, trig_doc, config, out)
        _check_event_offsets(rule, trig, doc, out)
    elif rule.cancel_on or "updates" in trig_doc:
        out.add(doc.line_of("cancel_on"), "cancel_on and updates need an event trigger")
    if isinstance(trig, CronTrigger) and rule.at is not None:
        out.add(
            doc.line_of("at"),
            "a cron trigger sets the time itself (its minute and hour); drop 'at'",
        )
    if isinstance(trig, HolidayTrigger):
        _check_holiday(trig, trig_doc, config, out)


def _check_event_offsets(rule: Rule, trig: EventTrigger, doc: LineDict, out: Collector) -> None:
    """An event rule's send offsets and 'at': each must name a moment that can happen, once."""
    exact = [o for o in rule.offsets if not o.unit.is_calendar]
    if rule.at is not None and exact:
        out.add(
            doc.line_of("at"),
            f"'at' sets a time of day, which does not go with "
            f"'{exact[0].text}'; use days or business days (e.g. '0 days after'), or drop "
            "'at'",
        )
    if trig.anchor == ("event", "at") and any(o.amount < 0 for o in rule.offsets):
        out.add(
            doc.line_of("send"),
            "a send 'before' the event's own time can never happen; "
            "anchor it to a future field (trigger.anchor: event.data.<datetime field>)",
        )
    zeros = [o for o in rule.offsets if o.amount == 0]
    if rule.at is None and len(zeros) > 1:
        out.add(
            doc.line_of("send"),
            "'immediately' and '0 days after' are the same moment without 'at': keep one",
        )


def _check_event_types(
    trig: EventTrigger, doc: LineDict, config: ProjectConfig, out: Collector
) -> None:
    """The trigger's and updates' event types (cancel_on's: see rules.cancel)."""
    updates_line = doc["trigger"].line_of("updates")
    field = trig.occurrence[2] if trig.occurrence[:2] == ("event", "data") else None
    if trig.updates and field is None:
        out.add(
            updates_line,
            "updates and cancel_on match events by the occurrence key: set "
            "trigger.occurrence to event.data.<field> (e.g. event.data.appointment_id)",
        )
    if not config.events:
        return  # the project declares no event types: nothing to check names against
    for name in trig.updates:
        declared = config.events.get(name)
        if field and declared is not None and field not in declared:
            out.add(
                updates_line,
                f"event {name!r} declares no {field!r}, so it cannot name the "
                f"occurrence to update or cancel: declare {field} under events.{name}",
            )
    for name, line in [(trig.event, doc["trigger"].line_of("event"))] + [
        (u, updates_line) for u in trig.updates
    ]:
        if name not in config.events:
            out.add(
                line,
                f"event type {name!r} is not declared under events: in "
                f"touchflow.yaml{did_you_mean(name, config.events)}",
            )


def _check_event_paths(
    trig: EventTrigger, trig_doc: LineDict, config: ProjectConfig, out: Collector
) -> None:
    declared = config.events.get(trig.event)
    if declared is None:
        return
    for key, path, wanted in (
        ("anchor", trig.anchor, (FieldType.DATE, FieldType.DATETIME)),
        ("occurrence", trig.occurrence, None),
    ):
        if path[:2] != ("event", "data"):
            continue
        field = path[2]
        if field not in declared:
            out.add(
                trig_doc.line_of(key),
                f"{key}: event {trig.event!r} declares no data field "
                f"{field!r}{did_you_mean(field, declared)}",
            )
        elif wanted and declared[field] not in wanted:
            out.add(
                trig_doc.line_of(key),
                f"anchor: {'.'.join(path)} is declared as "
                f"{declared[field]}, but an anchor must be a date or "
                "datetime",
            )


def _check_holiday(
    trig: HolidayTrigger, trig_doc: LineDict, config: ProjectConfig, out: Collector
) -> None:
    years = (2025, 2026, 2027)
    if any(calendars.holiday_dates(config.country, y, trig.name) for y in years):
        return
    if calendars.exists_somewhere(trig.name, 2026):
        return
    # Not found anywhere: only now is it worth reading every calendar, for a hint.
    pool = calendars.holiday_names(sorted(calendars.supported_countries()), (2026,))
    out.add(
        trig_doc.line_of("holiday"),
        f"no country calendar has a holiday named {trig.name!r}{did_you_mean(trig.name, pool)}",
    )
