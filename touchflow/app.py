"""Async flows behind the CLI commands: store access, sample loading, planning."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from touchflow.candidates import sends_counted_from
from touchflow.config import ProjectConfig
from touchflow.errors import Problem
from touchflow.importer import parse_customers, read_events
from touchflow.models import Event, PlannedTouchpoint, Window
from touchflow.planner import TIME_ORDER, Planner
from touchflow.project import Project
from touchflow.readers import raise_problems
from touchflow.sample_data import load_sample
from touchflow.store import CustomersWrite, EventsWrite, Store
from touchflow.store.sqlite import EVERYONE, PAGE_SIZE, IdRange, SqliteStore
from touchflow.timecalc import zone
from touchflow.words import counted

Notify = Callable[[str], None]


async def open_store(config: ProjectConfig) -> SqliteStore:
    return await SqliteStore.open(config.store_file())


async def ensure_sample(
    store: Store, config: ProjectConfig, now: datetime, notify: Notify, *, again: bool = False
) -> None:
    """Load the project's sample into an empty store, once, with dates relative to ``now``;
    ``again``: also if it was loaded (and removed) before (`touchflow sample`)."""
    if config.sample_dir is None or not config.sample_dir.is_dir():
        return
    if await store.customer_count() or (not again and await store.get_meta("sample_loaded_at")):
        return
    # "Today" in the sample is the project's local day, not the UTC one.
    local_now = now.astimezone(zone(config.timezone))
    summary = await load_sample(
        store,
        config.sample_dir,
        now=local_now,
        attribute_types=config.customer_attributes,
        data_types=config.events,
    )
    shown = _shown(config.store_file(), config.root)
    notify(
        f"Loaded the sample data ({counted(summary.customers, 'customer')}, "
        f"{counted(summary.events, 'event')}, {counted(summary.suppressions, 'suppression')}) "
        f"relative to {local_now.date().isoformat()} into "
        f"{shown}. `touchflow sample --reset` reloads it."
    )


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRequest:
    window: Window
    customer: str | None = None
    rule: str | None = None


async def plan_from_store(
    project: Project, store: Store, request: PlanRequest
) -> list[PlannedTouchpoint]:
    planned = [tp async for page in plan_pages(project, store, request) for tp in page]
    planned.sort(key=TIME_ORDER)
    return planned


async def plan_pages(
    project: Project,
    store: Store,
    request: PlanRequest,
    *,
    page_size: int = PAGE_SIZE,
    ids: IdRange = EVERYONE,
) -> AsyncIterator[list[PlannedTouchpoint]]:
    """The plan a page of customers at a time (one page for one customer), each page in
    time order; a page's facts can be let go once the caller is done with it."""
    # Plan with every rule (caps compete across rules), then keep the one asked for.
    config = project.config
    planner = Planner(project.rules, window=request.window, config=config)
    # Caps count what was sent in the period before the window, as the daemon's plans do.
    sent_since = sends_counted_from(request.window.start, config)
    # The planner is pure: in a worker thread it leaves a daemon's event loop free to send.
    if request.customer:
        facts = await store.load_facts(customer_ids=[request.customer], sent_since=sent_since)
        planned = await asyncio.to_thread(planner.plan, facts)
        yield [tp for tp in planned if request.rule in (None, tp.rule_id)]
        return
    async for page in store.facts_pages(page_size=page_size, ids=ids, sent_since=sent_since):
        planned = await asyncio.to_thread(planner.plan, page)
        yield [tp for tp in planned if request.rule in (None, tp.rule_id)]


class ImportProgress(Protocol):
    """How far an import got: lines of the file read, then rows written."""

    def reading(self, done: int, total: int) -> None: ...

    def writing(self, done: int, total: int) -> None: ...


async def import_customers(
    store: Store,
    config: ProjectConfig,
    path: Path,
    *,
    now: datetime,
    progress: ImportProgress | None = None,
) -> tuple[CustomersWrite, list[str]]:
    """What the store wrote, and the ids the file holds."""
    customers = parse_customers(
        path,
        attribute_types=config.customer_attributes,
        progress=progress.reading if progress else None,
    )
    written = _writing(progress, len(customers))
    outcome = await store.upsert_customers(customers, now=now, progress=written)
    return outcome, [c.id for c in customers]


async def import_events(
    store: Store, config: ProjectConfig, path: Path, progress: ImportProgress | None = None
) -> tuple[int, int]:
    """``(added, already known)``; like ``touchflow event`` and the HTTP interface, an
    unknown customer or an id already recorded for a different event stops it all."""
    lined = read_events(
        path, data_types=config.events, progress=progress.reading if progress else None
    )
    outcome = await store.add_events_checked(
        [event for _, event in lined], progress=_writing(progress, len(lined))
    )
    raise_problems(event_problems(str(path), lined, outcome))
    return len(outcome.inserted), len(outcome.duplicates)


def _writing(progress: ImportProgress | None, total: int) -> Callable[[int], None] | None:
    return None if progress is None else lambda done: progress.writing(done, total)


def event_problems(
    display: str, lined: Sequence[tuple[int, Event]], outcome: EventsWrite
) -> list[Problem]:
    """Each event the store refused, at its line."""
    unknown, conflicts = set(outcome.unknown_customers), set(outcome.conflicts)
    problems = []
    for line, event in lined:
        if event.customer_id in unknown:
            message = f"no customer {event.customer_id!r} in the store (import customers first)"
            problems.append(Problem(path=display, line=line, message=message))
        if event.id in conflicts:
            differ = "; ".join(outcome.differences.get(event.id, ()))
            message = (
                f"event id {event.id!r} is already recorded with different data ({differ}); "
                "event ids must be unique: give a different event a new id"
            )
            problems.append(Problem(path=display, line=line, message=message))
    return problems
