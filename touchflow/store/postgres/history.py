"""The PostgreSQL store read and written whole, as it is: what `touchflow store copy` moves.

A read is one REPEATABLE READ, READ ONLY transaction on one connection of the pool:
every page sees the same moment. A write is one transaction holding the changes lock
exclusively (``history_changes_lock``): writers of facts wait until it ends, so the
changes recorded meanwhile are its own rows' (and forgotten), never someone else's.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from touchflow.errors import StoreError
from touchflow.models import Customer, Event, OutboxRow, Suppression
from touchflow.store.history import (
    CLEARS,
    OWN_META,
    Decoders,
    HistoryRead,
    HistoryWrite,
    StatementReader,
)
from touchflow.store.postgres.columns import (
    aware,
    customer,
    customer_params,
    outbox_row,
    recorded_event,
    suppression,
    suppression_params,
)
from touchflow.store.postgres.connection import Connection, Db, fetch
from touchflow.store.postgres.queries import SQL
from touchflow.store.values import json_text

# Where the JSON columns are among a table's parameters: customers' attributes, events' data.
_JSON_AT = {"customers": (12,), "events": (4,)}
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class HistoryMethods(Connection):
    @asynccontextmanager
    async def read_history(self) -> AsyncIterator[HistoryRead]:
        async with self._transaction("read", snapshot=True) as db:
            yield _Read(db)

    @asynccontextmanager
    async def write_history(self) -> AsyncIterator[HistoryWrite]:
        async with self._transaction("copy into") as db:
            await db.execute(SQL["history_changes_lock"])
            yield _Write(db, self.shown)


class _Read(StatementReader):
    _decode = Decoders(customer, recorded_event, suppression, outbox_row)

    def __init__(self, db: Db) -> None:
        self._db = db

    async def _rows(self, name: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return await fetch(self._db, SQL[name], params)


class _Write(_Read):
    def __init__(self, db: Db, shown: str) -> None:
        super().__init__(db)
        self._shown = shown

    async def clear(self) -> None:
        for clear in CLEARS:
            await self._db.execute(SQL[clear])
        keys = [(k,) for (k, _) in await self._rows("history_meta") if k not in OWN_META]
        await self._many("history_delete_meta", keys)

    async def _many(self, name: str, params: Iterable[tuple[Any, ...]]) -> None:
        async with self._db.cursor() as cursor:
            await cursor.executemany(SQL[name], params)

    async def _put(self, name: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert rows in one statement, one array per column, and forget the changes the
        schema's triggers recorded for them."""
        if not rows:
            return
        self._holdable(name.removeprefix("history_put_"), rows)
        ((last,),) = await self._rows("history_last_change")
        await self._db.execute(SQL[name], [list(column) for column in zip(*rows, strict=True)])
        await self._db.execute(SQL["history_forget_changes_after"], (last,))

    def _holdable(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Refuse, naming the row, what PostgreSQL cannot hold and a SQLite file can: a
        NUL character in text; in JSON (``_JSON_AT``) a NUL or a number out of range."""
        json_at = _JSON_AT.get(table, ())
        for row in rows:
            texts = [v for v in row if isinstance(v, str)]
            if any("\x00" in v for v in texts) or any(_json_unholdable(row[i]) for i in json_at):
                raise StoreError(
                    f"cannot copy into store {self._shown}: {table} {row[0]!r} holds a NUL "
                    "character or a JSON number out of range (Infinity, NaN), which "
                    "PostgreSQL cannot store; correct it in the source and copy again"
                )

    async def put_customers(self, customers: Sequence[Customer]) -> None:
        rows = [customer_params(c, _maybe(c.created_at)) for c in customers]
        await self._put("history_put_customers", rows)

    async def put_events(self, events: Sequence[Event]) -> None:
        rows = [_event_params(e) for e in events]
        await self._put("history_put_events", rows)

    async def put_suppressions(self, suppressions: Sequence[Suppression]) -> None:
        await self._put("history_put_suppressions", [suppression_params(s) for s in suppressions])

    async def put_outbox(self, rows: Sequence[OutboxRow]) -> None:
        await self._put("history_put_outbox", [_outbox_params(r) for r in rows])

    async def put_changed(self, customer_ids: Sequence[str]) -> None:
        if customer_ids:
            await self._db.execute(SQL["history_put_changed"], (list(customer_ids),))

    async def put_meta(self, items: Mapping[str, str]) -> None:
        if own := OWN_META.intersection(items):
            raise ValueError(f"meta {sorted(own)} is the store's own: not written")
        await self._many("set_meta", list(items.items()))


def _json_unholdable(text: str) -> bool:
    """Whether a JSON document holds what jsonb refuses: a NUL (the escape ``\\u0000``
    after an even run of backslashes) or a number out of range (Infinity, NaN)."""
    if _NUL_ESCAPE.search(text):
        return True
    if "Infinity" not in text and "NaN" not in text:
        return False
    try:
        json.loads(text, parse_constant=_refuse)
    except ValueError:
        return True
    return False


def _refuse(constant: str) -> None:
    raise ValueError(constant)


def _maybe(instant: datetime | None) -> datetime | None:
    return None if instant is None else aware(instant)


def _event_params(e: Event) -> tuple[Any, ...]:
    """Every column of ``e``, in the order of ``history_put_events``."""
    at, data = aware(e.at), json_text(dict(e.data))
    return (e.id, e.type, e.customer_id, at, data, _maybe(e.recorded_at))


def _outbox_params(row: OutboxRow) -> tuple[Any, ...]:
    """Every column of ``row``, in the order of ``outbox_columns``."""
    return (
        row.key, row.rule_id, row.customer_id, row.category.value, row.counts_for_caps,
        row.state.value, aware(row.due_at), aware(row.expires_at),
        aware(row.next_attempt_at), row.attempts, row.reason, row.last_error,
        row.claim_owner, _maybe(row.claim_expires_at), row.message_id, row.to,
        _maybe(row.created_at), _maybe(row.updated_at), _maybe(row.sent_at), row.channel,
    )  # fmt: skip
