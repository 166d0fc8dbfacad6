"""`touchflow backtest --format json` and ``GET /v1/backtest``: the report as one JSON
document.

A public interface (docs/explain.md): keys are added, never renamed or removed, within a
major version. Times are UTC (``…Z``); days are the project's time zone's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from touchflow.explain.backtest import BacktestReport, DayLine, RuleLine
from touchflow.explain.backtest_tally import Difference, KeyDifference


def utc(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_json(report: BacktestReport) -> dict[str, Any]:
    request = report.request
    period = request.period
    return {
        "now": utc(report.now),
        "period": {"from": utc(period.start), "to": utc(period.end),
                   "timezone": report.timezone,
                   "catch_up_seconds": int(period.catch_up.total_seconds()),
                   "as_happened": period.as_happened},
        "filters": {"customer": request.customer, "rule": request.rule,
                    "category": request.category},
        "customers": report.customers,
        "customers_arrived": report.arrived,
        "would_send": sum(r.would_send for r in report.rules),
        "sent": sum(r.sent for r in report.rules),
        "same": report.same,
        "rules": [rule_json(r) for r in report.rules],
        "days": [day_json(d) for d in report.days],
        "differences": [difference_json(d) for d in report.differences],
    }  # fmt: skip


def rule_json(rule: RuleLine) -> dict[str, Any]:
    return {
        "rule": rule.rule,
        "where": rule.where,
        "would_send": rule.would_send,
        "sent": rule.sent,
        "both": rule.both,
        **{kind.value: rule.differences.get(kind, 0) for kind in Difference},
    }


def day_json(day: DayLine) -> dict[str, Any]:
    return {
        "day": day.day.isoformat(),
        "would_send": sum(day.would_send.values()),
        "sent": sum(day.sent.values()),
        "rules": {
            rule: {"would_send": day.would_send.get(rule, 0), "sent": day.sent.get(rule, 0)}
            for rule in sorted(day.would_send.keys() | day.sent.keys())
        },
    }


def difference_json(d: KeyDifference) -> dict[str, Any]:
    return {
        "kind": d.kind.value,
        "key": d.key,
        "rule": d.rule,
        "customer": d.customer,
        "due_at": utc(d.due_at),
        "would_send_at": utc(d.would_send_at),
        "sent_at": utc(d.sent_at),
    }
