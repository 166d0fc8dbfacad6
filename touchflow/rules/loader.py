"""Read ``rules/*.yaml`` into validated ``Rule`` values, reporting every problem with file:line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from touchflow import calendars
from touchflow.checks import Collector, did_you_mean
from touchflow.config.project_config import ProjectConfig, read_policies
from touchflow.durations import IMMEDIATELY, Offset, parse_offset, parse_period, parse_time_of_day
from touchflow.errors import Problem, ProblemsError, RuleError, shown
from touchflow.models import Category, FieldType
from touchflow.rules.cancel import check_cancel_on, read_cancel_on
from touchflow.rules.expressions import ConditionError, compile_condition
from touchflow.rules.schema import (
    Condition,
    CronTrigger,
    DateTrigger,
    EventTrigger,
    Feb29,
    HolidayTrigger,
    Rule,
    Trigger,
    YearlyTrigger,
)
from touchflow.timecalc import validate_cron
from touchflow.yamlload import LineDict, LineList, load_yaml

RULE_KEYS = (
    "id",
    "description",
    "category",
    "priority",
    "trigger",
    "send",
    "at",
    "conditions",
    "cancel_on",
    "action",
    "policies",
    "expires_after",
)
TRIGGER_KINDS = ("event", "yearly", "date", "holiday", "cron")
_TRIGGER_EXTRA = {
    "event": ("anchor", "occurrence", "updates"),
    "yearly": ("feb29",),
    "date": ("feb29",),
    "holiday": (),
    "cron": (),
}
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MMDD_RE = re.compile(r"^(\d{2})-(\d{2})$")
CHANNELS = ("email",)
DATE_FIELDS = ("birthday", "customer_since")


def load_rules(config: ProjectConfig) -> list[Rule]:
    """Every rule in ``rules/*.yaml`` (sorted by file name); ``RuleError`` lists all problems."""
    rules, problems = collect_rules(config)
    if problems:
        raise RuleError(problems)
    return rules


def collect_rules(config: ProjectConfig) -> tuple[list[Rule], list[Problem]]:
    """The rules that are sound, and every problem found in the others."""
    files = sorted([*config.rules_dir.glob("*.yaml"), *config.rules_dir.glob("*.yml")])
    rules: list[Rule] = []
    problems: list[Problem] = []
    seen: dict[str, Rule] = {}
    for path in files:
        display = str(path.relative_to(config.root))
        loaded, found = _collect_file(path, display, config)
        problems.extend(found)
        for rule in loaded:
            if rule.id in seen:
                problems.append(
                    Problem(
                        path=display,
                        line=rule.line,
                        message=f"rule id {rule.id!r} is already used at {seen[rule.id].where}",
                    )
                )
                continue
            seen[rule.id] = rule
            rules.append(rule)
    return rules, problems


def load_rules_file(path: Path, display: str, config: ProjectConfig) -> list[Rule]:
    rules, problems = _collect_file(path, display, config)
    if problems:
        raise RuleError(problems)
    return rules


def _collect_file(
    path: Path, display: str, config: ProjectConfig
) -> tuple[list[Rule], list[Problem]]:
    try:
        raw = load_yaml(path, display=display)
    except ProblemsError as exc:
        return [], list(exc.problems)
    out = Collector(display)
    if raw is None:
        return [], []
    if not isinstance(raw, LineList):
        out.add(
            getattr(raw, "line", 1),
            "a rules file holds a list of rules (each starting with '- id: ...')",
        )
        return [], out.problems
    rules = []
    for i, item in enumerate(raw):
        doc = out.mapping(item, raw.line_of(i), what="each rule")
        if doc is not None:
            rule = _read_rule(doc, display, config, out)
            if rule is not None:
                rules.append(rule)
    return rules, out.problems


def _read_rule(doc: LineDict, display: str, config: ProjectConfig, out: Collector) -> Rule | None:
    before = len(out.problems)
    out.check_keys(doc, RULE_KEYS, where="a rule", required=("id", "category", "trigger", "action"))
    rule_id = _read_id(doc, out)
    category = _read_category(doc, out)
    trigger = _read_trigger(doc, config, out) if "trigger" in doc else None
    offsets = _read_offsets(doc, out)
    at = (
        out.parse(parse_time_of_day, doc["at"], doc.line_of("at"), what="at")
        if "at" in doc
        else None
    )
    channel, template = _read_action(doc, out)
    cancel_on = read_cancel_on(doc, out)
    priority = doc.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        out.add(doc.line_of("priority"), f"priority must be a whole number, not {shown(priority)}")
    base = config.policies[category or Category.TRANSACTIONAL]
    policies = (
        read_policies(doc["policies"], doc.line_of("policies"), out, base)
        if "policies" in doc
        else base
    )
    conditions = _read_conditions(doc, out)
    expires_after = (
        out.parse(
            parse_period, doc["expires_after"], doc.line_of("expires_after"), what="expires_after"
        )
        if "expires_after" in doc
        else None
    )
    if len(out.problems) > before or None in (rule_id, category, trigger, channel, template):
        return None
    assert rule_id and category and trigger and channel and template  # for mypy
    rule = Rule(
        id=rule_id,
        description=str(doc.get("description", "")).strip(),
        category=category,
        priority=int(priority),
        trigger=trigger,
        offsets=offsets,
        at=at,
        conditions=conditions,
        cancel_on=cancel_on,
        channel=channel,
        template=template,
        policies=policies,
        path=display,
        line=doc.line,
        expires_after=expires_after,
    )
    _cross_check(rule, doc, config, out)
    return None if len(out.problems) > before else rule


def _read_id(doc: LineDict, out: Collector) -> str | None:
    value = doc.get("id")
    if value is None:
        return None
    if not isinstance(value, str) or not _ID_RE.match(value):
        out.add(
            doc.line_of("id"),
            f"rule id {value!r} must be lower-case letters, digits, "
            "'-' or '_' (e.g. appointment-reminder)",
        )
        return None
    return value


def _read_category(doc: LineDict, out: Collector) -> Category | None:
    value = doc.get("category")
    if value is None:
        return None
    names = [c.value for c in Category]
    if value not in names:
        out.add(
            doc.line_of("category"),
            f"category must be transactional or marketing, not "
            f"{value!r}{did_you_mean(str(value), names)}",
        )
        return None
    return Category(value)


def _read_offsets(doc: LineDict, out: Collector) -> tuple[Offset, ...]:
    if "send" not in doc:
        return (IMMEDIATELY,)
    line = doc.line_of("send")
    texts = out.text_list(doc["send"], line, what="send")
    offsets: list[Offset] = []
    for i, text in enumerate(texts):
        item_line = doc["send"].line_of(i) if isinstance(doc["send"], LineList) else line
        offset = out.parse(parse_offset, text, item_line, what="send")
        if offset is None:
            continue
        if offset in offsets:
            out.add(item_line, f"send lists {text!r} twice; each offset sends once per occurrence")
            continue
        offsets.append(offset)
    if not texts:
        out.add(line, 'send must name at least one offset, e.g. "immediately"')
    return tuple(offsets)


def _read_action(doc: LineDict, out: Collector) -> tuple[str | None, str | None]:
    if "action" not in doc:
        return None, None
    action = out.mapping(doc["action"], doc.line_of("action"), what="action")
    if action is None:
        return None, None
    out.check_keys(action, ("channel", "template"), where="action", required=("template",))
    channel = action.get("channel", "email")
    if channel not in CHANNELS:
        out.add(
            action.line_of("channel"),
            f"unknown channel {channel!r}; available: {', '.join(CHANNELS)}",
        )
        return None, None
    template = out.text(action.get("template"), action.line_of("template"), what="template")
    return channel, template


def _read_conditions(doc: LineDict, out: Collector) -> tuple[Condition, ...]:
    if "conditions" not in doc:
        return ()
    raw = doc["conditions"]
    line = doc.line_of("conditions")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        out.add(line, "conditions must be a list of expressions, e.g. - customer.tenure_years >= 5")
        return ()
    result = []
    for i, source in enumerate(items):
        item_line = raw.line_of(i) if isinstance(raw, LineList) else line
        if not isinstance(source, str):
            out.add(item_line, f"a condition must be an expression in quotes, not {shown(source)}")
            continue
        try:
            compiled = compile_condition(source)
        except ConditionError as exc:
            out.add(item_line, str(exc))
            continue
        result.append(Condition(source=source, line=item_line, compiled=compiled))
    return tuple(result)


def _read_trigger(doc: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    trig = out.mapping(doc["trigger"], doc.line_of("trigger"), what="trigger")
    if trig is None:
        return None
    kinds = [k for k in TRIGGER_KINDS if k in trig]
    if len(kinds) != 1:
        unknown = [
            k
            for k in trig
            if k not in TRIGGER_KINDS and not any(k in extra for extra in _TRIGGER_EXTRA.values())
        ]
        hint = did_you_mean(unknown[0], TRIGGER_KINDS) if unknown else ""
        out.add(
            trig.line,
            f"trigger needs exactly one of: {', '.join(TRIGGER_KINDS)} "
            f"(found {', '.join(kinds) or 'none'}){hint}",
        )
        return None
    kind = kinds[0]
    out.check_keys(trig, (kind, *_TRIGGER_EXTRA[kind]), where=f"the {kind} trigger")
    reader = {
        "event": _event_trigger,
        "yearly": _yearly_trigger,
        "date": _date_trigger,
        "holiday": _holiday_trigger,
        "cron": _cron_trigger,
    }[kind]
    return reader(trig, config, out)


def _event_trigger(trig: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    event = out.text(trig["event"], trig.line_of("event"), what="trigger.event")
    anchor = _path(trig.get("anchor", "event.at"), trig.line_of("anchor"), out, what="anchor")
    if anchor == ("event", "id"):
        out.add(
            trig.line_of("anchor"),
            "anchor must be a time: event.at or event.data.<date or datetime field>, not event.id",
        )
        anchor = None
    occurrence = _path(
        trig.get("occurrence", "event.id"), trig.line_of("occurrence"), out, what="occurrence"
    )
    updates = tuple(out.text_list(trig.get("updates", []), trig.line_of("updates"), what="updates"))
    if event is None or anchor is None or occurrence is None:
        return None
    return EventTrigger(event=event, anchor=anchor, occurrence=occurrence, updates=updates)


def _path(value: Any, line: int, out: Collector, *, what: str) -> tuple[str, ...] | None:
    """``event.at``, ``event.id`` or ``event.data.<field>``."""
    if isinstance(value, str):
        parts = tuple(value.strip().split("."))
        if parts in (("event", "at"), ("event", "id")) or (
            len(parts) == 3 and parts[:2] == ("event", "data") and parts[2]
        ):
            return parts
    out.add(line, f"{what} must be event.at, event.id or event.data.<field>, not {shown(value)}")
    return None


def _feb29(trig: LineDict, out: Collector) -> Feb29:
    value = trig.get("feb29", Feb29.FEB28.value)
    names = [p.value for p in Feb29]
    if value not in names:
        out.add(
            trig.line_of("feb29"), f"feb29 must be one of {', '.join(names)}, not {shown(value)}"
        )
        return Feb29.FEB28
    return Feb29(value)


def _yearly_trigger(trig: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    value = trig["yearly"]
    allowed = [
        *DATE_FIELDS,
        *(k for k, t in config.customer_attributes.items() if t is FieldType.DATE),
    ]
    name = value.removeprefix("customer.") if isinstance(value, str) else None
    if name not in allowed:
        choices = ", ".join(f"customer.{f}" for f in allowed)
        hint = did_you_mean(str(value), [f"customer.{f}" for f in allowed])
        out.add(
            trig.line_of("yearly"),
            f"yearly needs a customer date field ({choices}), not {shown(value)}{hint}",
        )
        return None
    assert name is not None
    return YearlyTrigger(field=name, feb29=_feb29(trig, out))


def _date_trigger(trig: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    value = str(trig["date"])
    match = _MMDD_RE.match(value)
    month, day = (int(match[1]), int(match[2])) if match else (0, 0)
    valid = match is not None and 1 <= month <= 12 and 1 <= day <= _days_in_month(month)
    if not valid:
        out.add(trig.line_of("date"), f'date must be "MM-DD" (e.g. "01-01"), not {shown(value)}')
        return None
    return DateTrigger(month=month, day=day, feb29=_feb29(trig, out))


def _days_in_month(month: int) -> int:
    return (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]


def _holiday_trigger(trig: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    name = out.text(trig["holiday"], trig.line_of("holiday"), what="holiday")
    return HolidayTrigger(name=name) if name else None


def _cron_trigger(trig: LineDict, config: ProjectConfig, out: Collector) -> Trigger | None:
    expression = out.text(trig["cron"], trig.line_of("cron"), what="cron")
    if expression is None:
        return None
    parsed = out.parse(validate_cron, expression, trig.line_of("cron"), what="cron")
    if parsed is None:
        return None
    return CronTrigger(expression=expression, date_fields=parsed[0], at=parsed[1])


def known_event_types(config: ProjectConfig) -> Sequence[str]:
    return sorted(config.events)


def _cross_check(rule: Rule, doc: LineDict, config: ProjectConfig, out: Collector) -> None:
    """Checks that need the whole rule and the project's declarations."""
    trig = rule.trigger
    trig_doc = doc["trigger"]
    if isinstance(trig, EventTrigger):
        _check_event_types(trig, doc, config, out)
        check_cancel_on(rule.cancel_on, trig, doc, config, out)
        _check_event_paths(trig, trig_doc, config, out)
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
    elif rule.cancel_on or "updates" in trig_doc:
        out.add(doc.line_of("cancel_on"), "cancel_on and updates need an event trigger")
    if isinstance(trig, CronTrigger) and rule.at is not None:
        out.add(
            doc.line_of("at"),
            "a cron trigger sets the time itself (its minute and hour); drop 'at'",
        )
    if isinstance(trig, HolidayTrigger):
        _check_holiday(trig, trig_doc, config, out)


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
