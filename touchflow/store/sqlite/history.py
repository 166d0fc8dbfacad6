"""The SQLite store read and written whole, as it is: what `touchflow store copy` moves.

A read is one deferred transaction on the store's one connection (WAL: a snapshot,
while other processes go on writing); a write is one ``BEGIN IMMEDIATE`` transaction,
so no other writer comes in between. Both hold the connection's lock until they end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite

from touchflow.models import Customer, Event, OutboxRow, Suppression
from touchflow.store.history import (
    CLEARS,
    OWN_META,
    Decoders,
    HistoryRead,
    HistoryWrite,
    StatementReader,
)
from touchflow.store.sqlite.columns import (
    customer,
    customer_params,
    event_params,
    recorded_event,
    suppression,
    suppression_params,
)
from touchflow.store.sqlite.connection import Connection, run
from touchflow.store.sqlite.outbox_rows import to_row
from touchflow.store.sqlite.queries import SQL
from touchflow.store.values import utc_text


class HistoryMethods(Connection):
    @asynccontextmanager
    async def read_history(self) -> AsyncIterator[HistoryRead]:
        async with self._transaction("read", begin="BEGIN") as db:
            yield _Read(db)

    @asynccontextmanager
    async def write_history(self) -> AsyncIterator[HistoryWrite]:
        async with self._transaction("copy into") as db:
            yield _Write(db)


class _Read(StatementReader):
    _decode = Decoders(customer, recorded_event, suppression, to_row)

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def _rows(self, name: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return list(await self._db.execute_fetchall(SQL[name], params))


class _Write(_Read):
    async def clear(self) -> None:
        for clear in CLEARS:
            await run(self._db.execute(SQL[clear]))
        keys = [(k,) for (k, _) in await self._rows("history_meta") if k not in OWN_META]
        await run(self._db.executemany(SQL["history_delete_meta"], keys))

    async def _put(self, name: str, params: Iterable[tuple[Any, ...]]) -> None:
        """Insert rows, and forget the changes the schema's triggers recorded for them."""
        ((last,),) = await self._rows("history_last_change")
        await run(self._db.executemany(SQL[name], params))
        await run(self._db.execute(SQL["history_forget_changes_after"], (last,)))

    async def put_customers(self, customers: Sequence[Customer]) -> None:
        rows = (customer_params(c, utc_text(c.created_at)) for c in customers)
        await self._put("history_put_customer", rows)

    async def put_events(self, events: Sequence[Event]) -> None:
        await self._put("history_put_event", (event_params(e) for e in events))

    async def put_suppressions(self, suppressions: Sequence[Suppression]) -> None:
        await self._put("history_put_suppression", (suppression_params(s) for s in suppressions))

    async def put_outbox(self, rows: Sequence[OutboxRow]) -> None:
        await run(self._db.executemany(SQL["history_put_outbox"], map(_outbox_params, rows)))

    async def put_changed(self, customer_ids: Sequence[str]) -> None:
        await run(self._db.executemany(SQL["mark_changed"], [(i,) for i in customer_ids]))

    async def put_meta(self, items: Mapping[str, str]) -> None:
        if own := OWN_META.intersection(items):
            raise ValueError(f"meta {sorted(own)} is the store's own: not written")
        await run(self._db.executemany(SQL["set_meta"], list(items.items())))


def _outbox_params(row: OutboxRow) -> tuple[Any, ...]:
    """Every column of ``row``, in the order of ``outbox_columns``."""
    return (
        row.key, row.rule_id, row.customer_id, row.category.value, int(row.counts_for_caps),
        row.state.value, utc_text(row.due_at), utc_text(row.expires_at),
        utc_text(row.next_attempt_at), row.attempts, row.reason, row.last_error,
        row.claim_owner, utc_text(row.claim_expires_at), row.message_id, row.to,
        utc_text(row.created_at), utc_text(row.updated_at), utc_text(row.sent_at),
        row.channel,
    )  # fmt: skip
