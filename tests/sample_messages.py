"""Every message the sample project can send, as the dispatcher builds it: one per rule and
locale the sample's templates are written in, for tests that judge them from outside
(SpamAssassin, the HTML document, the footer).

The sample is loaded into a real SQLite store, planned a year ahead, and each rule's first
touchpoint with an address is built by ``touchflow.messages.build.build`` (what the
dispatcher's batches call) once for each locale, the customer's locale set to it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from daemon_support import copy_sample

from touchflow.cli.flows import ensure_sample, open_store
from touchflow.messages.build import build
from touchflow.models import Category, PlannedTouchpoint, Window
from touchflow.plan.from_store import PlanRequest, plan_from_store
from touchflow.plan.preview import load_for_preview
from touchflow.project import Project

NOW = datetime.fromisoformat("2026-12-07T08:00:00+00:00")


@dataclass(frozen=True, slots=True)
class SampleMessage:
    rule: str
    locale: str
    category: Category
    subject: str
    data: bytes

    @property
    def name(self) -> str:
        return f"{self.rule}.{self.locale}"


def sample_locales(project: Project) -> list[str]:
    """The project's locale and every locale a template of it has a variant for."""
    found = {
        source.locale
        for name in project.templates.names()
        for source in project.templates.sources(name)
        if source.locale is not None
    }
    return [project.config.locale, *sorted(found - {project.config.locale})]


async def _plan(project: Project) -> list[PlannedTouchpoint]:
    async with await open_store(project.config) as store:
        await ensure_sample(store, project.config, NOW, lambda _: None)
        window = Window(start=NOW, end=NOW + timedelta(days=400))
        return await plan_from_store(project, store, PlanRequest(window=window))


def sample_messages(tmp: Path) -> list[SampleMessage]:
    """Every rule and locale of a copy of the sample project (made under ``tmp``)."""
    tmp.mkdir(parents=True, exist_ok=True)
    project = load_for_preview(copy_sample(tmp))
    first: dict[str, PlannedTouchpoint] = {}
    for tp in asyncio.run(_plan(project)):
        if tp.to:
            first.setdefault(tp.rule_id, tp)
    missing = {r.id for r in project.rules} - set(first)
    assert not missing, f"no touchpoint with an address for {missing} in 400 days"
    messages = []
    for rule_id, tp in sorted(first.items()):
        for locale in sample_locales(project):
            customer = {**tp.context["customer"], "locale": locale}
            as_if = dataclasses.replace(tp, context={**tp.context, "customer": customer})
            built = build(project, as_if, date=tp.due_at)
            assert built.email is not None and built.message is not None, built.touchpoint
            messages.append(
                SampleMessage(rule_id, locale, tp.category, built.message.subject, built.email.data)
            )
    return messages
