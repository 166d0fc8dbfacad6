"""`touchflow diff --format json` and ``GET /v1/diff``: the report as one JSON document.

A public interface (docs/explain.md): keys are added, never renamed or removed, within a
major version. Times are UTC (``…Z``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from touchflow.explain.diff import DiffReport, RuleSummary
from touchflow.explain.diff_outbox import RowEffect
from touchflow.plan.diff import KeyChange, Side

EFFECTS = ("kept", "moved", "cancelled", "suppressed", "revived", "updated")


def utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_json(report: DiffReport) -> dict[str, Any]:
    request, base = report.request, report.base
    return {
        "base": {"label": base.label, "rev": base.rev, "commit": base.commit,
                 "dir": None if base.rev else str(base.root)},
        "now": utc(request.now),
        "window": {"from": utc(request.window.start), "to": utc(request.window.end)},
        "filters": {"customer": request.customer, "rule": request.rule,
                    "category": request.category},
        "customers": report.customers,
        "touchpoints": {"base": report.base_touchpoints, "new": report.new_touchpoints},
        "changed": report.changed,
        "rules": [rule_json(r) for r in report.rules],
        "changes": [change_json(c) for c in report.changes],
        "outbox": [effect_json(e) for e in report.effects],
    }  # fmt: skip


def rule_json(rule: RuleSummary) -> dict[str, Any]:
    return {
        "rule": rule.rule,
        "version": rule.version,
        "where": rule.where,
        **{kind.value: count for kind, count in rule.counts.items()},
        "examples": list(rule.examples),
        "outbox": {effect: rule.outbox.get(effect, 0) for effect in EFFECTS},
    }


def side_json(side: Side | None) -> dict[str, Any] | None:
    if side is None:
        return None
    return {
        "status": side.status.value,
        "reason": side.reason,
        "detail": side.detail,
        "send_at": utc(side.due_at),
        "template": side.template,
        "category": side.category,
    }


def change_json(change: KeyChange) -> dict[str, Any]:
    content = change.content
    return {
        "key": change.key,
        "rule": change.rule,
        "customer": change.customer,
        "kinds": [k.value for k in change.kinds],
        "base": side_json(change.base),
        "new": side_json(change.new),
        "content": None
        if content is None
        else {
            "subject": list(content.subject),
            "text": list(content.text),
            "html_changed": content.html_changed,
        },
    }


def effect_json(effect: RowEffect) -> dict[str, Any]:
    return {
        "key": effect.key,
        "rule": effect.rule,
        "customer": effect.customer,
        "effect": effect.effect,
        "state": effect.state.value,
        "new_state": effect.new_state.value,
        "due_at": utc(effect.due_at),
        "new_due_at": utc(effect.new_due_at),
        "reason": effect.reason,
    }
