"""Read ``rules/*.yaml`` into validated ``Rule`` values, reporting every problem with file:line."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from touchflow.checks import Collector, did_you_mean
from touchflow.config.policies import Policies, read_policies
from touchflow.config.project_config import ProjectConfig
from touchflow.durations import IMMEDIATELY, Offset, parse_offset, parse_period, parse_time_of_day
from touchflow.errors import Problem, ProblemsError, RuleError, shown
from touchflow.models import Category
from touchflow.rules.cancel import read_cancel_on
from touchflow.rules.expressions import ConditionError, compile_condition
from touchflow.rules.quiet_hours import quiet_hours
from touchflow.rules.rule_checks import check_rule
from touchflow.rules.schema import Condition, Rule
from touchflow.rules.triggers import read_trigger
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
    "auto_submitted",
)
AUTO_SUBMITTED = ("auto-generated", "auto-replied")
_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")  # fullmatch: "$" lets a final line break through
CHANNELS = ("email", "sms", "webhook")
ACTION_KEYS = ("channel", "channels", "template")

_T = TypeVar("_T")


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
    trigger = read_trigger(doc, config, out) if "trigger" in doc else None
    offsets = _read_offsets(doc, out)
    at = _read_optional(doc, "at", parse_time_of_day, out)
    channels, template = _read_action(doc, config, out)
    cancel_on = read_cancel_on(doc, out)
    priority = _read_priority(doc, out)
    policies = _read_policies(doc, config.policies[category or Category.TRANSACTIONAL], out)
    conditions = _read_conditions(doc, out)
    expires_after = _read_optional(doc, "expires_after", parse_period, out)
    auto_submitted = _read_optional(doc, "auto_submitted", _auto_submitted, out)
    policies = quiet_hours(policies, category, channels or (), config, out, doc.line)
    if len(out.problems) > before or None in (rule_id, category, trigger, channels, template):
        return None
    assert rule_id and category and trigger and channels and template  # for mypy
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
        channel=channels[0],
        channels=channels,
        template=template,
        policies=policies,
        path=display,
        line=doc.line,
        expires_after=expires_after,
        auto_submitted=auto_submitted or AUTO_SUBMITTED[0],
    )
    check_rule(rule, doc, config, out)
    return None if len(out.problems) > before else rule


def _read_id(doc: LineDict, out: Collector) -> str | None:
    value = doc.get("id")
    if value is None:
        return None
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
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


def _read_optional(
    doc: LineDict, key: str, parse: Callable[[Any], _T], out: Collector
) -> _T | None:
    return out.parse(parse, doc[key], doc.line_of(key), what=key) if key in doc else None


def _auto_submitted(value: Any) -> str:
    if value not in AUTO_SUBMITTED:
        raise ValueError(f"must be auto-generated or auto-replied, not {shown(value)}")
    return str(value)


def _read_priority(doc: LineDict, out: Collector) -> Any:
    priority = doc.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        out.add(doc.line_of("priority"), f"priority must be a whole number, not {shown(priority)}")
    return priority


def _read_policies(doc: LineDict, base: Policies, out: Collector) -> Policies:
    """The rule's own policy keys over its category's (the project's defaults)."""
    if "policies" not in doc:
        return base
    return read_policies(doc["policies"], doc.line_of("policies"), out, base)


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


def _read_action(
    doc: LineDict, config: ProjectConfig, out: Collector
) -> tuple[tuple[str, ...] | None, str | None]:
    """The channels in the order tried (``channel: x`` is one) and the template."""
    if "action" not in doc:
        return None, None
    action = out.mapping(doc["action"], doc.line_of("action"), what="action")
    if action is None:
        return None, None
    out.check_keys(action, ACTION_KEYS, where="action", required=("template",))
    if "channel" in action and "channels" in action:
        out.add(
            action.line_of("channels"),
            "action has channel and channels: give one (channels: [sms, email] tries sms "
            "first, then email)",
        )
        return None, None
    if "channels" in action:
        channels = _read_channels(action, config, out)
    else:
        one = _read_channel(action.get("channel", "email"), action.line_of("channel"), config, out)
        channels = None if one is None else (one,)
    template = out.text(action.get("template"), action.line_of("template"), what="template")
    return channels, template


def _read_channels(
    action: LineDict, config: ProjectConfig, out: Collector
) -> tuple[str, ...] | None:
    """``channels: [sms, email]``: each a known channel that is configured, none twice."""
    raw, line = action["channels"], action.line_of("channels")
    if not isinstance(raw, list) or not raw:
        out.add(line, f"channels must be a list of channels, e.g. [sms, email], not {shown(raw)}")
        return None
    found: list[str] = []
    for i, item in enumerate(raw):
        item_line = raw.line_of(i) if isinstance(raw, LineList) else line
        channel = _read_channel(item, item_line, config, out)
        if channel is not None and channel in found:
            out.add(item_line, f"channels lists {channel} twice; each is tried once")
        elif channel is not None:
            found.append(channel)
    return tuple(found) if len(found) == len(raw) else None


def _read_channel(channel: Any, line: int, config: ProjectConfig, out: Collector) -> str | None:
    if channel not in CHANNELS:
        out.add(line, f"unknown channel {shown(channel)}; available: {', '.join(CHANNELS)}")
        return None
    if channel == "webhook" and config.delivery.webhook is None:
        out.add(
            line,
            "channel webhook needs a webhook to post to: add delivery.webhook (url and "
            "secret_env) to touchflow.yaml, see docs/channels.md",
        )
        return None
    if channel == "sms" and config.delivery.sms is None:
        out.add(
            line,
            "channel sms needs a provider to send through: add delivery.sms (provider: "
            "twilio or folder) to touchflow.yaml, see docs/channels.md",
        )
        return None
    return str(channel)


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


def known_event_types(config: ProjectConfig) -> Sequence[str]:
    return sorted(config.events)
