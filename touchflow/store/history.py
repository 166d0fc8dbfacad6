"""The whole store as it is, for `touchflow store copy`: ``CopyStore`` (a part of the
``Store`` boundary), the read of one moment a page at a time and the write of rows as
they are it hands out, and the tables it moves."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from touchflow.models import Customer, Event, OutboxRow, Suppression

# What ``store copy`` moves, in the order it moves them: every row of these tables, and
# as "changes" the customers still to re-plan (each once).
HISTORY_TABLES = ("customers", "events", "suppressions", "outbox", "changes")
# The statements (each store's queries.sql) that empty each of them, one a table; named
# whole, so the check that every named statement is used finds them.
CLEARS = (
    "history_clear_customers", "history_clear_events", "history_clear_suppressions",
    "history_clear_outbox", "history_clear_changes",
)  # fmt: skip
# Meta a store keeps of itself, not of the project's data: never copied.
OWN_META = frozenset({"schema_version", "changes_done", "plan_run"})


class HistoryRead(Protocol):
    """A whole store at one moment, a page at a time (``CopyStore.read_history``).
    Every page is in its key's byte order and starts after ``after`` ("" before all)."""

    async def counts(self) -> dict[str, int]:
        """Rows per table of ``HISTORY_TABLES`` ("changes": customers to re-plan)."""
        ...

    async def meta(self) -> dict[str, str]:
        """Every meta key but ``OWN_META``."""
        ...

    async def customers(self, after: str, limit: int) -> list[Customer]: ...

    async def events(self, after: str, limit: int) -> list[Event]:
        """Every event by id, also those whose customer is not in the store."""
        ...

    async def suppressions(self, after: tuple[str, str], limit: int) -> list[Suppression]:
        """By ``(email, scope)``, the hashed addresses of erasures too."""
        ...

    async def outbox(self, after: str, limit: int) -> list[OutboxRow]:
        """By key, every state, every column as stored (claims, attempts, Message-IDs)."""
        ...

    async def changed(self, after: str, limit: int) -> list[str]:
        """Ids of the customers whose changes are still pending, each once."""
        ...


class HistoryWrite(Protocol):
    """Rows written as they are, inside the one transaction ``CopyStore.write_history``
    opened: nothing is stored unless the whole block ends without raising. A row is
    written whole (its times, attempts, claim, Message-ID as given) and records no
    change of its own: which customers are to be re-planned is ``put_changed``'s."""

    async def counts(self) -> dict[str, int]:
        """As ``HistoryRead.counts``, including this block's writes."""
        ...

    async def clear(self) -> None:
        """Delete every row of every table of ``HISTORY_TABLES`` and the meta but
        ``OWN_META``."""
        ...

    async def put_customers(self, customers: Sequence[Customer]) -> None: ...

    async def put_events(self, events: Sequence[Event]) -> None: ...

    async def put_suppressions(self, suppressions: Sequence[Suppression]) -> None: ...

    async def put_outbox(self, rows: Sequence[OutboxRow]) -> None: ...

    async def put_changed(self, customer_ids: Sequence[str]) -> None:
        """Mark these customers changed, as a write of their facts would."""
        ...

    async def put_meta(self, items: Mapping[str, str]) -> None:
        """Set these meta keys (``OWN_META`` ones are refused with ``ValueError``)."""
        ...


class CopyStore(Protocol):
    """The whole store read and written as it is: `touchflow store copy` moves a project
    from one store to another (SQLite, PostgreSQL) through these, history and all."""

    def read_history(self) -> AbstractAsyncContextManager[HistoryRead]:
        """One read-only transaction: every page read in the block sees the same moment,
        whatever others write meanwhile."""
        ...

    def write_history(self) -> AbstractAsyncContextManager[HistoryWrite]:
        """One write transaction, all or nothing; it begins at once and keeps other
        writers of facts out until it ends (their changes could not be told from the
        block's own)."""
        ...


@dataclass(frozen=True, slots=True)
class Decoders:
    """A store's own functions from a row of its to a model."""

    customer: Callable[[Any], Customer]
    event: Callable[[Any], Event]
    suppression: Callable[[Any], Suppression]
    outbox_row: Callable[[Any], OutboxRow]


class StatementReader:
    """``HistoryRead`` over a store's statements of the same names (each store's
    queries.sql): the store gives ``_rows`` and ``_decode``."""

    _decode: Decoders

    async def _rows(self, name: str, params: tuple[Any, ...] = ()) -> list[Any]:
        raise NotImplementedError

    async def counts(self) -> dict[str, int]:
        (row,) = await self._rows("history_counts")
        return dict(zip(HISTORY_TABLES, (int(n) for n in row), strict=True))

    async def meta(self) -> dict[str, str]:
        rows = await self._rows("history_meta")
        return {str(k): str(v) for k, v in rows if k not in OWN_META}

    async def customers(self, after: str, limit: int) -> list[Customer]:
        return [
            self._decode.customer(r) for r in await self._rows("customers_page", (after, limit))
        ]

    async def events(self, after: str, limit: int) -> list[Event]:
        return [self._decode.event(r) for r in await self._rows("history_events", (after, limit))]

    async def suppressions(self, after: tuple[str, str], limit: int) -> list[Suppression]:
        rows = await self._rows("history_suppressions", (*after, limit))
        return [self._decode.suppression(r) for r in rows]

    async def outbox(self, after: str, limit: int) -> list[OutboxRow]:
        rows = await self._rows("history_outbox", (after, limit))
        return [self._decode.outbox_row(r) for r in rows]

    async def changed(self, after: str, limit: int) -> list[str]:
        return [str(r[0]) for r in await self._rows("history_changed", (after, limit))]
