"""Async flows behind the CLI commands: the project's store, its sample, importing files into it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from touchflow.config.project_config import ProjectConfig
from touchflow.config.store import StoreLocation, shown_location
from touchflow.data.customers import CustomerReader
from touchflow.data.events import EventReader, path_source
from touchflow.data.readers import Problems, Source
from touchflow.data.sample_data import load_sample
from touchflow.errors import Problem
from touchflow.models import Event
from touchflow.store import CustomersWrite, EventsWrite, Store
from touchflow.store import open_store as open_location
from touchflow.timecalc import zone
from touchflow.words import counted

Notify = Callable[[str], None]


async def open_store(config: ProjectConfig) -> Store:
    return await open_location(config.store_location())


def store_missing(location: StoreLocation) -> bool:
    """A SQLite file not made yet (a PostgreSQL store is made when first opened)."""
    return isinstance(location, Path) and not location.exists()


def shown_store(config: ProjectConfig) -> str:
    """The store in a message: a file relative to the project; a URL without secrets."""
    location = config.store_location()
    if isinstance(location, Path):
        try:
            return str(location.relative_to(config.root))
        except ValueError:
            pass
    return shown_location(location)


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
        country=config.country,
    )
    shown = shown_store(config)
    notify(
        f"Loaded the sample data ({counted(summary.customers, 'customer')}, "
        f"{counted(summary.events, 'event')}, {counted(summary.suppressions, 'suppression')}) "
        f"relative to {local_now.date().isoformat()} into "
        f"{shown}. `touchflow sample --reset` reloads it."
    )


class _Undo(Exception):
    """A problem in the file: leave the write at once (nothing will be stored)."""


def _read_on(chunks: Iterator[object]) -> None:
    """Read the rest of the file outside the write, only for its problems."""
    for _ in chunks:
        pass


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
) -> tuple[CustomersWrite, Collection[str]]:
    """What the store wrote, and the ids the file holds.

    The file is read a chunk at a time and each chunk written as it comes, all in one
    transaction: memory follows the chunk. A problem anywhere stops the writing, the
    rest of the file is still read for its problems, and nothing is stored."""
    reader = CustomerReader(
        Source(display=str(path), path=path),
        attribute_types=config.customer_attributes,
        progress=progress.reading if progress else None,
        country=config.country,
    )
    written = CustomersWrite(new=0, updated=0, unchanged=0)
    chunks = reader.chunks()
    try:
        async with store.bulk_write() as bulk:
            for chunk in chunks:
                if reader.problems.count:
                    raise _Undo  # undoes every chunk written, and lets the store go
                outcome = await bulk.upsert_customers(
                    chunk, now=now, progress=_writing(progress, written.total, reader)
                )
                written = _added(written, outcome)
            if reader.problems.count:  # in the lines after the last chunk
                raise _Undo
    except _Undo:
        _read_on(chunks)
    reader.raise_if_any()
    if progress is not None:
        progress.writing(written.total, written.total)
    return written, reader.ids.keys()


def _added(a: CustomersWrite, b: CustomersWrite) -> CustomersWrite:
    return CustomersWrite(
        new=a.new + b.new, updated=a.updated + b.updated, unchanged=a.unchanged + b.unchanged
    )


async def import_events(
    store: Store,
    config: ProjectConfig,
    path: Path,
    *,
    now: datetime,
    progress: ImportProgress | None = None,
) -> tuple[int, int]:
    """``(added, already known)``; like ``touchflow event`` and the HTTP interface, an
    unknown customer or an id already recorded for a different event stops it all.
    New events are recorded at ``now`` (the import's clock, read once).

    Read and written a chunk at a time in one transaction, as ``import_customers``;
    the file's own problems are reported before the store's (as when it was read whole)."""
    reader = EventReader(
        path_source(path),
        data_types=config.events,
        progress=progress.reading if progress else None,
    )
    refused = Problems(str(path))
    added = known = 0
    chunks = reader.chunks()
    try:
        async with store.bulk_write() as bulk:
            for chunk in chunks:
                if reader.problems.count:
                    raise _Undo
                outcome = await bulk.add_events_checked(
                    [event for _, event in chunk],
                    now=now,
                    progress=_writing(progress, added + known, reader),
                )
                for problem in event_problems(str(path), chunk, outcome):
                    refused.add(problem.line, problem.message)
                added, known = added + len(outcome.inserted), known + len(outcome.duplicates)
            if reader.problems.count:  # in the lines after the last chunk
                raise _Undo
            refused.raise_if_any()  # inside the block: undoes every chunk written
    except _Undo:
        _read_on(chunks)
    reader.raise_if_any()
    if progress is not None:
        progress.writing(added + known, added + known)
    return added, known


def _writing(
    progress: ImportProgress | None, before: int, reader: CustomerReader | EventReader
) -> Callable[[int], None] | None:
    """Rows written of the rows read so far (the file's total is known only at its end)."""
    if progress is None:
        return None
    return lambda done: progress.writing(before + done, max(len(reader.ids), before + done))


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
