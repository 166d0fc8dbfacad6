"""`touchflow why --format json` (and ``GET /v1/customers/{id}/why``): the story as JSON.

A public interface, documented in docs/explain.md and pinned by a test: add keys,
never rename or remove them.
"""

from __future__ import annotations

from typing import Any

from touchflow.models import OutboxRow
from touchflow.plan.trace_model import Check, CustomerStory, RuleStory, TouchpointStory
from touchflow.plan.trace_time import utc_iso
from touchflow.timecalc import zone


def story_json(story: CustomerStory) -> dict[str, Any]:
    customer = story.customer
    return {
        "customer": {
            "id": customer.id,
            "email": customer.email,
            "phone": customer.phone,
            "timezone": story.timezone,
            "country": story.country,
            "consent_marketing": customer.consent_marketing,
            "consent_sms": customer.consent_sms,
            "created_at": utc_iso(customer.created_at) if customer.created_at else None,
        },
        "now": utc_iso(story.now),
        "past": {"from": utc_iso(story.past.start), "to": utc_iso(story.past.end)},
        "future": {"from": utc_iso(story.future.start), "to": utc_iso(story.future.end)},
        "rules": [_rule(r) for r in story.rules],
    }


def _rule(rule: RuleStory) -> dict[str, Any]:
    return {
        "rule": rule.rule_id,
        "category": rule.category,
        "channel": rule.channel,
        "channels": list(rule.channels or (rule.channel,)),
        "trigger": rule.trigger,
        "where": rule.where,
        "found": [check_json(c) for c in rule.found],
        "none": rule.none,
        "touchpoints": [_touchpoint(t) for t in rule.touchpoints],
    }


def _touchpoint(tp: TouchpointStory) -> dict[str, Any]:
    local = tp.due_at.astimezone(zone(tp.timezone)).replace(microsecond=0)
    return {
        "key": tp.key,
        "rule": tp.rule_id,
        "occurrence": tp.occurrence,
        "period": tp.period,
        "status": tp.status,
        "channel": tp.channel,
        "reason": tp.reason.value if tp.reason else None,
        "detail": tp.detail,
        "stopped_by": tp.stopped_by,
        "send_at": utc_iso(tp.due_at),
        "local_send_at": local.isoformat(),
        "timezone": tp.timezone,
        "expires_at": utc_iso(tp.expires_at) if tp.expires_at else None,
        "checks": [check_json(c) for c in tp.checks],
        "outbox": None if tp.outbox is None else outbox_json(tp.outbox),
    }


def check_json(check: Check) -> dict[str, Any]:
    return {
        "stage": check.stage.value,
        "check": check.name,
        "passed": check.passed,
        "text": check.text,
        "where": check.where,
        "values": dict(check.values),
        "reason": check.reason.value if check.reason else None,
    }


def outbox_json(row: OutboxRow) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return None if value is None else utc_iso(value)

    return {
        "state": row.state.value,
        "channel": row.channel,
        "attempts": row.attempts,
        "reason": row.reason,
        "last_error": row.last_error,
        "claim_owner": row.claim_owner,
        "claim_expires_at": when(row.claim_expires_at),
        "message_id": row.message_id,
        "to": row.to,
        "due_at": when(row.due_at),
        "next_attempt_at": when(row.next_attempt_at),
        "expires_at": when(row.expires_at),
        "sent_at": when(row.sent_at),
        "created_at": when(row.created_at),
        "updated_at": when(row.updated_at),
    }
