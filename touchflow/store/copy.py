"""A whole store into another, all or nothing: what `touchflow store copy` does.

Through the ``Store`` boundary only (``CopyStore``), so any store copies into any
other: SQLite into PostgreSQL and back, or into one of its own kind. The source is
read in one snapshot, a page at a time (memory follows the page, not the store); the
destination is written in one transaction, so a copy that fails or is killed half-way
leaves it as it was. Before the end the destination's counts are checked against the
source's, inside that transaction: a difference rolls it back.

What a daemon finds on the destination: the outbox as it was, every row with its key
(so nothing planned is planned twice, nothing sent is sent again), its claims (taken
back after their lease as on the source), ``daemon_planned_until`` (the full plan
goes on from where the source's stopped), and as changes only the customers the
source still had to re-plan: the copy's own writes are not changes of anyone's facts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from touchflow.config.store import shown_location, store_location
from touchflow.errors import StoreError
from touchflow.store.boundary import Store
from touchflow.store.history import HISTORY_TABLES, HistoryRead, HistoryWrite

# Rows read, then written, at a time.
COPY_PAGE = 5_000
# What makes a store hold a project: a destination with any of these is not empty.
DATA_TABLES = ("customers", "events", "suppressions", "outbox")
_NOUNS = {
    "customers": ("customer", "customers"),
    "events": ("event", "events"),
    "suppressions": ("suppression", "suppressions"),
    "outbox": ("outbox row", "outbox rows"),
    "changes": ("customer to re-plan", "customers to re-plan"),
}

Row = TypeVar("Row")
Key = TypeVar("Key")


class CopyProgress(Protocol):
    def __call__(self, table: str, done: int, total: int) -> None:
        """``done`` of ``total`` rows of ``table`` (one of ``HISTORY_TABLES``) written."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Copied:
    """What a copy moved: rows per table of ``HISTORY_TABLES`` in the source's snapshot
    and in the destination once committed, and the meta keys it set."""

    source: dict[str, int]
    destination: dict[str, int]
    meta: tuple[str, ...]


class DestinationNotEmptyError(StoreError):
    """The destination holds a project already; copying into it would mix two."""

    def __init__(self, where: str, found: dict[str, int]) -> None:
        self.found = found
        held = ", ".join(in_words(t, found[t]) for t in DATA_TABLES if found[t])
        super().__init__(
            f"the store {where} is not empty ({held}): copying into it would mix two "
            "projects' data. Copy into an empty store, or add --replace to delete what "
            "it holds first (in the same transaction: nothing is deleted if the copy fails)."
        )


class CountsDifferError(StoreError):
    """The destination does not hold what the source did: the copy is not kept."""

    def __init__(self, where: str, source: dict[str, int], written: dict[str, int]) -> None:
        differ = [
            f"{t}: {source[t]} in the source, {written[t]} written"
            for t in HISTORY_TABLES
            if source[t] != written[t]
        ]
        super().__init__(
            f"the copy into {where} was rolled back: its counts differ ({'; '.join(differ)})"
        )


def in_words(table: str, count: int) -> str:
    """``count`` rows of ``table`` in words: "1 customer", "3 outbox rows"."""
    one, many = _NOUNS[table]
    return f"{count} {one if count == 1 else many}"


def shown_store(store: Store) -> str:
    """Where ``store`` is, in a message: never a password."""
    return shown_location(store_location(store.location))


async def copy_store(
    source: Store,
    destination: Store,
    *,
    replace: bool = False,
    progress: CopyProgress | None = None,
    page: int = COPY_PAGE,
) -> Copied:
    """Copy every row of ``source`` and its meta (but the store's own) into
    ``destination``, in one transaction there. A destination holding data is refused
    (``DestinationNotEmptyError``) unless ``replace``: then what it held is deleted in
    that same transaction."""
    async with source.read_history() as read:
        counts = await read.counts()
        async with destination.write_history() as write:
            found = await write.counts()
            if not replace and any(found[t] for t in DATA_TABLES):
                raise DestinationNotEmptyError(shown_store(destination), found)
            await write.clear()
            await _copy_rows(read, write, counts, progress or _quiet, page)
            meta = await read.meta()
            await write.put_meta(meta)
            written = await write.counts()
            if written != counts:
                raise CountsDifferError(shown_store(destination), counts, written)
    async with destination.read_history() as check:
        committed = await check.counts()
    return Copied(source=counts, destination=committed, meta=tuple(sorted(meta)))


async def _copy_rows(
    read: HistoryRead,
    write: HistoryWrite,
    counts: dict[str, int],
    progress: CopyProgress,
    page: int,
) -> None:
    def step(table: str) -> Callable[[int], None]:
        return lambda done: progress(table, done, counts[table])

    await _pages(read.customers, write.put_customers, lambda c: c.id, "", step("customers"), page)
    await _pages(read.events, write.put_events, lambda e: e.id, "", step("events"), page)
    await _pages(
        read.suppressions,
        write.put_suppressions,
        lambda s: (s.email, s.scope.value),
        ("", ""),
        step("suppressions"),
        page,
    )
    await _pages(read.outbox, write.put_outbox, lambda r: r.key, "", step("outbox"), page)
    await _pages(read.changed, write.put_changed, lambda i: i, "", step("changes"), page)


async def _pages(
    read: Callable[[Key, int], Awaitable[list[Row]]],
    put: Callable[[Sequence[Row]], Awaitable[None]],
    key: Callable[[Row], Key],
    after: Key,
    done: Callable[[int], None],
    page: int,
) -> None:
    """Every row ``read`` gives, a page at a time after ``after``, into ``put``."""
    written = 0
    done(written)
    while rows := await read(after, page):
        await put(rows)
        written += len(rows)
        done(written)
        if len(rows) < page:
            return
        after = key(rows[-1])


def _quiet(table: str, done: int, total: int) -> None:
    pass
