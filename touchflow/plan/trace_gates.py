"""`touchflow why`: the gates of one touchpoint, in the planner's order, with the values read.

Cancelled, invalid data, each condition (with the value of every name it reads),
an address, suppressions, consent, a skipping holiday, then the cap. Every gate is
shown, also after the first that closed: the planner's own hold reason says which
one stopped the touchpoint, and the story names that one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import jinja2

from touchflow.config.caps import Cap
from touchflow.config.project_config import ProjectConfig
from touchflow.durations import period_text
from touchflow.errors import shown
from touchflow.models import (
    Category,
    HoldReason,
    PlannedTouchpoint,
    SentRecord,
    Suppression,
    SuppressionScope,
)
from touchflow.plan.candidates import Candidate
from touchflow.plan.channels import blocks, sms_gate
from touchflow.plan.trace_model import Check, Stage
from touchflow.plan.trace_time import utc_iso
from touchflow.plan.trace_words import NO_CONSENT, NO_SMS_CONSENT
from touchflow.rules.expressions import (
    ConditionError,
    compile_condition,
    evaluate,
    parse_condition_ast,
)
from touchflow.rules.schema import Condition


def gate_checks(c: Candidate, suppressions: Sequence[Suppression]) -> list[Check]:
    """Every gate of the touchpoint in the planner's order (``Planner._hold``)."""
    rule, occ = c.rule, c.occ
    where = rule.where
    checks = [_cancelled(c)] if occ.cancelled_by is not None or rule.cancel_on else []
    if occ.invalid is not None:
        checks.append(_gate("data", False, occ.invalid, where, HoldReason.INVALID_DATA))
    checks += [_condition(c, condition) for condition in rule.conditions]
    # Each channel tried, in order, up to the one it goes by (touchflow.plan.channels).
    for channel in rule.channels:
        found = channel_checks(c, channel, suppressions)
        checks += found
        if all(check.passed for check in found):
            if len(rule.channels) > 1:
                text = f"goes by {channel}: the first of {', '.join(rule.channels)} it can"
                checks.append(_gate("channel", True, text, where, HoldReason.NO_ADDRESS))
            break
    if c.skipped is not None:
        text = f"{c.skipped} is a public holiday in {c.customer.country}: the rule skips holidays"
        checks.append(_gate("holiday", False, text, where, HoldReason.SKIPPED_HOLIDAY))
    return checks


def channel_checks(c: Candidate, channel: str, suppressions: Sequence[Suppression]) -> list[Check]:
    """The address, suppression and consent gates of one channel (``Planner._hold``); with
    a fallback, each named after its channel (``sms address``)."""
    rule, facts = c.rule, c.customer.facts
    customer, where = facts.customer, rule.where
    prefix = f"{channel} " if len(rule.channels) > 1 else ""
    checks = []
    if channel == "email":
        email = customer.email
        text = f"email address {email}" if email else "the customer has no email address"
        checks.append(_gate(f"{prefix}address", bool(email), text, where, HoldReason.NO_ADDRESS))
    if channel == "sms":
        held = sms_gate(facts, rule)
        ok = held is None or held[0] is not HoldReason.NO_ADDRESS
        text = f"phone number {customer.phone}" if ok else held[1] if held else ""
        checks.append(_gate(f"{prefix}address", ok, text, where, HoldReason.NO_ADDRESS))
        if not ok:
            return checks
        mine = [s for s in suppressions if s.email == customer.phone]
        checks.append(_suppression(c, mine, facts.suppressed_phone, customer.phone, prefix))
        consent = customer.consent_sms
        text = "the customer consented to texts" if consent else NO_SMS_CONSENT
        checks.append(_gate(f"{prefix}consent", consent, text, where, HoldReason.NO_CONSENT))
        return checks
    mail = [s for s in suppressions if s.email != customer.phone]
    checks.append(_suppression(c, mail, facts.suppressed, customer.email, prefix))
    if rule.policies.require_consent:
        consent = customer.consent_marketing
        text = "the customer consented to marketing" if consent else NO_CONSENT
        checks.append(_gate(f"{prefix}consent", consent, text, where, HoldReason.NO_CONSENT))
    return checks


def _gate(
    name: str,
    passed: bool,
    text: str,
    where: str,
    reason: HoldReason,
    values: Mapping[str, Any] | None = None,
) -> Check:
    return Check(
        stage=Stage.GATE,
        name=name,
        passed=passed,
        text=text,
        where=where,
        values=values or {},
        reason=None if passed else reason,
    )


def _cancelled(c: Candidate) -> Check:
    ev = c.occ.cancelled_by
    types = ", ".join(f"{x.event} ({x.match.value})" for x in c.rule.cancel_on)
    if ev is None:
        return _gate(
            "cancel_on",
            True,
            f"no cancel_on event ({types}) cancelled it",
            c.rule.where,
            HoldReason.CANCELLED,
        )
    text = f"cancelled by {ev.type} event {ev.id} at {utc_iso(ev.at)} (cancel_on: {types})"
    values = {"event": ev.id, "type": ev.type, "at": utc_iso(ev.at)}
    return _gate("cancel_on", False, text, c.rule.where, HoldReason.CANCELLED, values)


def _condition(c: Candidate, condition: Condition) -> Check:
    """One condition: its result, and the value of each name it reads, as the planner saw."""
    where = f"{c.rule.path}:{condition.line}"
    context = c.context()
    values = {path: json_value(_value_of(path, context)) for path in names_read(condition.source)}
    read = ", ".join(f"{path} = {shown(value)}" for path, value in values.items())
    try:
        passed = evaluate(condition.compiled, context)
        text = f"{condition.source}: {'true' if passed else 'false'}"
    except ConditionError as exc:
        passed, text = False, f"{condition.source}: cannot be evaluated: {exc}"
    if read:
        text += f" ({read})"
    return _gate(
        "condition",
        passed,
        text,
        where,
        HoldReason.CONDITION_FALSE,
        {"condition": condition.source, "read": values},
    )


@functools.lru_cache(maxsize=256)
def names_read(source: str) -> tuple[str, ...]:
    """The dotted names a condition reads, longest first met: ``customer.tier``, ``vars.x``."""
    found: list[str] = []
    inner: set[int] = set()
    for node in parse_condition_ast(source).find_all((jinja2.nodes.Getattr, jinja2.nodes.Name)):
        if id(node) in inner:
            continue
        path = _dotted(node, inner)
        if path is not None and path not in found:
            found.append(path)
    return tuple(found)


def _dotted(node: jinja2.nodes.Node, inner: set[int]) -> str | None:
    """``a.b.c`` of a chain of attributes on a name (its inner nodes noted as seen)."""
    parts: list[str] = []
    while isinstance(node, jinja2.nodes.Getattr):
        parts.append(node.attr)
        node = node.node
        inner.add(id(node))
    if not isinstance(node, jinja2.nodes.Name) or node.ctx != "load":
        return None
    return ".".join([node.name, *reversed(parts)])


def _value_of(path: str, context: Mapping[str, Any]) -> Any:
    try:
        return compile_condition(path)(**context)
    except Exception as exc:  # a name a condition reads may be missing: say so
        return f"<{type(exc).__name__}: {exc}>"


def json_value(value: Any) -> Any:
    """A value as JSON can carry it: dates as ISO text, other objects as their text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    return str(value)


def _suppression(
    c: Candidate, suppressions: Sequence[Suppression], scopes: frozenset[SuppressionScope],
    address: str | None, prefix: str,
) -> Check:  # fmt: skip
    # The e-mail address's (also for a webhook), or the phone number's (sms).
    """Which suppressions of the address apply to this rule's category, with since and why."""
    marketing = c.rule.category is Category.MARKETING
    applies = blocks(scopes, c.rule)
    matching = [s for s in suppressions if s.scope is SuppressionScope.ALL or marketing]
    name = f"{prefix}suppression"
    if not applies:
        phone = address is not None and address == c.customer.facts.customer.phone
        text = f"the {'number' if phone else 'address'} is not suppressed"
        return _gate(name, True, text, c.rule.where, HoldReason.SUPPRESSED)
    parts = [
        f"{s.scope.value} since {s.created_at:%Y-%m-%d %H:%M} UTC"
        if s.created_at
        else f"{s.scope.value}"
        for s in matching
    ]
    reasons = [s.reason for s in matching if s.reason]
    text = f"{address} is suppressed ({'; '.join(parts) or 'hashed'})"
    if reasons:
        text += f": {'; '.join(reasons)}"
    values = {
        "suppressions": [
            {
                "scope": s.scope.value,
                "since": utc_iso(s.created_at) if s.created_at else None,
                "reason": s.reason,
            }
            for s in matching
        ]
    }
    return _gate(name, False, text, c.rule.where, HoldReason.SUPPRESSED, values)


def cap_check(
    c: Candidate, tp: PlannedTouchpoint, plan: Sequence[PlannedTouchpoint],
    sent: Sequence[SentRecord], config: ProjectConfig,
) -> Check | None:  # fmt: skip
    """The cap of the rule's category: not counted, within it, or what filled it."""
    rule = c.rule
    cap = next((cap for cap in config.caps if cap.category is rule.category), None)
    if cap is None:
        return None
    by = f"{c.channel} " if cap.per_channel else ""
    limit = f"cap of {cap.max} {cap.category.value} {by}per {period_text(cap.per)}"
    if not rule.policies.caps:
        return _cap(rule.where, None, f"not counted towards the {limit} (policies: caps: false)")
    if tp.reason is not None and tp.reason is not HoldReason.CAPPED:
        return _cap(rule.where, None, f"held before the {limit}: not counted")
    if tp.reason is not HoldReason.CAPPED:
        return _cap(rule.where, True, f"within the {limit}")
    start, fillers = _fullest(c, cap, plan, sent)
    end = start + cap.per
    names = ", ".join(f"{key} ({what}, due {utc_iso(due)})" for due, key, what in fillers)
    text = f"the {limit} was full from {utc_iso(start)} to {utc_iso(end)}: {names}"
    filled_by = [{"key": k, "as": w, "due_at": utc_iso(d)} for d, k, w in fillers]
    values = {"max": cap.max, "per": period_text(cap.per), "from": utc_iso(start),
              "to": utc_iso(end), "filled_by": filled_by}  # fmt: skip
    return _cap(rule.where, False, text, values)


def _cap(
    where: str, passed: bool | None, text: str, values: Mapping[str, Any] | None = None
) -> Check:
    reason = HoldReason.CAPPED if passed is False else None
    return Check(stage=Stage.CAP, name="cap", passed=passed, text=text, where=where,
                 values=values or {}, reason=reason)  # fmt: skip


def _fullest(
    c: Candidate, cap: Cap, plan: Sequence[PlannedTouchpoint], sent: Sequence[SentRecord]
) -> tuple[datetime, list[tuple[datetime, str, str]]]:
    """A period holding ``c`` that the cap's other touchpoints already fill, and those."""
    taken = {
        s.key: (s.due_at, s.key, "sent")
        for s in sent
        if s.category is cap.category and (not cap.per_channel or s.channel == c.channel)
    }
    for tp in plan:
        other = tp.context
        counted = isinstance(other, Candidate) and other.counts
        if cap.per_channel and tp.channel != c.channel:
            continue
        if tp.reason is None and tp.category is cap.category and counted and tp.key not in taken:
            taken[tp.key] = (tp.due_at, tp.key, "planned")
    rivals = sorted(taken.values())
    starts = sorted({r[0] for r in rivals if c.due - cap.per < r[0] <= c.due} | {c.due})
    for start in starts:
        inside = [r for r in rivals if start <= r[0] < start + cap.per]
        if len(inside) >= cap.max:
            return start, inside
    return c.due, rivals[: cap.max]  # not found again (facts changed between reads)
