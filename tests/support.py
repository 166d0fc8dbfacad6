"""Builders that let planner tests read like the behaviour they pin."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from touchflow.config.project_config import ProjectConfig, load_project
from touchflow.errors import Problem, ProblemsError
from touchflow.models import (
    Customer,
    CustomerFacts,
    Event,
    PlannedTouchpoint,
    SentRecord,
    SuppressionScope,
    Window,
)
from touchflow.plan.planner import plan
from touchflow.rules.loader import load_rules
from touchflow.rules.schema import Rule


def write_project(root: Path, rules_yaml: str, config_yaml: str = "") -> Path:
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "message_templates").mkdir(exist_ok=True)
    (root / "rules" / "rules.yaml").write_text(textwrap.dedent(rules_yaml), encoding="utf-8")
    if config_yaml:
        (root / "touchflow.yaml").write_text(textwrap.dedent(config_yaml), encoding="utf-8")
    return root


def load_config(root: Path, config_yaml: str) -> ProjectConfig:
    """A project with no rules and this touchflow.yaml, loaded."""
    write_project(root, "", config_yaml)
    return load_project(root)


def config_problems(root: Path, config_yaml: str) -> list[Problem]:
    """Every problem loading this touchflow.yaml reports (it must report some)."""
    with pytest.raises(ProblemsError) as caught:
        load_config(root, config_yaml)
    return list(caught.value.problems)


def the_problem(problems: list[Problem]) -> tuple[str, str]:
    """``("touchflow.yaml:3", message)`` of the one problem expected."""
    assert len(problems) == 1, "expected one problem, got:\n" + "\n".join(map(str, problems))
    (problem,) = problems
    return f"{problem.path}:{problem.line}", problem.message


def project(root: Path, rules_yaml: str, config_yaml: str = "") -> tuple[ProjectConfig, list[Rule]]:
    write_project(root, rules_yaml, config_yaml)
    config = load_project(root)
    return config, load_rules(config)


def utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None, "tests use aware datetimes only"
    return value.astimezone(UTC)


def customer(**overrides: Any) -> Customer:
    values: dict[str, Any] = {
        "id": "c1",
        "email": "ana@example.com",
        "first_name": "Ana",
        "timezone": "Europe/Berlin",
        "country": "DE",
        "consent_marketing": True,
    }
    values.update(overrides)
    return Customer(**values)


def event(
    type_: str,
    at: str,
    data: dict[str, Any] | None = None,
    *,
    id: str | None = None,
    customer_id: str = "c1",
) -> Event:
    return Event(
        id=id or f"{type_}-{at}", type=type_, customer_id=customer_id, at=utc(at), data=data or {}
    )


def facts(
    cust: Customer | None = None,
    events: Sequence[Event] = (),
    *,
    suppressed: Sequence[SuppressionScope] = (),
    sent: Sequence[SentRecord] = (),
) -> CustomerFacts:
    return CustomerFacts(
        customer=cust or customer(),
        events=sorted(events, key=lambda e: (e.at, e.id)),
        suppressed=frozenset(suppressed),
        sent=tuple(sent),
    )


def run(
    config: ProjectConfig,
    rules: Sequence[Rule],
    *customer_facts: CustomerFacts,
    start: str,
    days: int,
) -> list[PlannedTouchpoint]:
    return plan(rules, customer_facts, window=Window.of_days(utc(start), days), config=config)


def planned(tps: Sequence[PlannedTouchpoint]) -> list[PlannedTouchpoint]:
    return [tp for tp in tps if tp.reason is None]


def local(tp: PlannedTouchpoint, tz: str | None = None) -> str:
    """The due time as 'YYYY-MM-DD HH:MM' in the touchpoint's (or the given) zone."""
    from zoneinfo import ZoneInfo

    return tp.due_at.astimezone(ZoneInfo(tz or tp.timezone)).strftime("%Y-%m-%d %H:%M")


def d(text: str) -> date:
    return date.fromisoformat(text)
