"""The outbox in the SQLite store: plan writes, claims, outcomes, take-backs, re-queues.

Statements come from queries.sql and rows through ``outbox_rows``; every write
names the state it expects a row in (see there).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from touchflow.models import CANCELLED_BY_HAND, OutboxRow, OutboxState, Suppression
from touchflow.store.boundary import REQUEUEABLE
from touchflow.store.sqlite import outbox_rows as rows_sql
from touchflow.store.sqlite.columns import suppression_params
from touchflow.store.sqlite.connection import Connection, changed, chunks, run
from touchflow.store.sqlite.queries import SQL, marks
from touchflow.store.values import check_keyset, from_utc_text, utc_text
from touchflow.store.writes import Finish, HandCancel


class OutboxMethods(Connection):
    # --- what the planner wrote ----------------------------------------------

    async def outbox_by_keys(self, keys: Collection[str]) -> dict[str, OutboxRow]:
        found: dict[str, OutboxRow] = {}
        async with self._transaction("read the outbox of", begin="BEGIN") as db:
            for chunk in chunks(sorted(keys)):
                statement = SQL["outbox_rows_in"].format(marks=marks(len(chunk)))
                for row in await rows_sql.select(db, statement, chunk):
                    found[row.key] = row
        return found

    async def open_outbox(
        self, *, due_from: datetime, due_to: datetime, customer_ids: Collection[str] | None
    ) -> list[OutboxRow]:
        """Pending and retrying rows due in [due_from, due_to), of those customers (or all)."""
        window = [utc_text(due_from), utc_text(due_to)]
        if customer_ids is None:
            return await self._select(SQL["open_outbox"], window)
        rows: list[OutboxRow] = []
        for chunk in chunks(sorted(customer_ids)):
            statement = SQL["open_outbox_of_customers_in"].format(marks=marks(len(chunk)))
            rows += await self._select(statement, [*window, *chunk])
        return rows

    async def sent_of_customers(
        self, customer_ids: Collection[str], *, due_from: datetime, due_to: datetime
    ) -> list[OutboxRow]:
        """Sent rows of those customers due in [due_from, due_to), by customer, due, key."""
        window = [utc_text(due_from), utc_text(due_to)]
        rows: list[OutboxRow] = []
        async with self._transaction("read the outbox of", begin="BEGIN") as db:
            for chunk in chunks(sorted(set(customer_ids))):
                statement = SQL["sent_of_customers_between"].format(marks=marks(len(chunk)))
                rows += await rows_sql.select(db, statement, [*window, *chunk])
        return rows

    async def open_outbox_of_other_rules(self, rule_ids: Collection[str]) -> list[OutboxRow]:
        """Pending and retrying rows of rules that are not (or no longer) in ``rule_ids``."""
        statement = SQL["open_outbox_of_other_rules"].format(marks=marks(len(rule_ids)))
        return await self._select(statement, sorted(rule_ids))

    async def open_outbox_without_customer(self) -> list[OutboxRow]:
        """Pending and retrying rows whose customer is no longer in the store."""
        return await self._select(SQL["open_outbox_without_customer"], ())

    async def write_plan(
        self,
        inserts: Sequence[OutboxRow],
        updates: Sequence[tuple[OutboxRow, OutboxState]],
        *,
        now: datetime,
    ) -> tuple[int, int]:
        """New rows, and rows rewritten if still in the state they were read in; one transaction."""
        async with self._transaction("write the plan to") as db:
            inserted = await rows_sql.insert(db, inserts, now) if inserts else 0
            updated = await rows_sql.replan(db, updates, now) if updates else 0
        return inserted, updated

    # --- the dispatcher's side ------------------------------------------------

    async def claim_due(
        self, *, owner: str, now: datetime, ttl: timedelta, limit: int
    ) -> list[OutboxRow]:
        """Claim up to ``limit`` ready rows (due, or retry time reached), oldest first."""
        async with self._transaction("claim from") as db:
            return await rows_sql.claim(db, owner=owner, now=now, until=now + ttl, limit=limit)

    async def finish_claim(
        self,
        row: OutboxRow,
        *,
        owner: str,
        now: datetime,
        attempted: bool,
        suppress: Suppression | None = None,
    ) -> bool:
        """Record the outcome of a claimed row (and suppress its address) in one transaction.

        False if the claim was no longer ours (taken back after it timed out).
        """
        item = Finish(row=row, attempted=attempted, suppress=suppress)
        return (await self.finish_claims([item], owner=owner, now=now))[0]

    async def finish_claims(
        self, items: Sequence[Finish], *, owner: str, now: datetime
    ) -> list[bool]:
        """Record the outcomes of claimed rows, and the suppressions they bring, in one
        transaction; per item, whether it was recorded (False: the claim was taken back).

        Without suppressions and for up to ``FINISH_CHUNK`` rows this is one statement,
        which SQLite runs as its own transaction: one round trip to the store's thread.
        """
        if not items:
            return []
        pairs = [(item.row, item.attempted) for item in items]
        if len(items) <= rows_sql.FINISH_CHUNK and all(item.suppress is None for item in items):
            statement, params = rows_sql.finish_many_statement(pairs, owner=owner, now=now)
            rows = await self._fetch(statement, params, action="record sends in")
            done = {str(r[0]) for r in rows}
        else:
            async with self._transaction("record sends in") as db:
                done = await rows_sql.finish_many(db, pairs, owner=owner, now=now)
                for item in items:
                    if item.suppress is not None and item.row.key in done:
                        params = suppression_params(item.suppress)
                        await run(db.execute(SQL["upsert_suppression"], params))
        return [item.row.key in done for item in items]

    async def renew_claims(
        self, *, owner: str, keys: Collection[str], now: datetime, ttl: timedelta
    ) -> int:
        until, renewed = utc_text(now + ttl), 0
        async with self._transaction("renew claims in") as db:
            for part in chunks(sorted(keys)):
                statement = SQL["renew_claims"].format(marks=marks(len(part)))
                renewed += await changed(db, statement, (until, owner, *part))
        return renewed

    async def reclaim(
        self,
        *,
        now: datetime,
        owners_gone: bool = False,
        me: str | None = None,
        owner: str | None = None,
    ) -> list[OutboxRow]:
        """Claims taken back; the rows as they were (claimed). One daemon holds a SQLite
        store (its lock file): every owner but ``me`` is gone."""
        # Built here: which claims are taken back is a combination of three choices.
        params: list[str | None] = []
        if owner is not None:
            where = "state = 'claimed' AND claim_owner = ?"
            params.append(owner)
        elif owners_gone:
            where = "state = 'claimed' AND (claim_expires_at <= ? OR claim_owner IS NOT ?)"
            params += [utc_text(now), me]
        else:
            where = "state = 'claimed' AND claim_expires_at <= ?"
            params.append(utc_text(now))
        stamp = utc_text(now)
        async with self._transaction("take back claims in") as db:
            rows = await rows_sql.select(db, SQL["outbox_where"].format(where=where), params)
            statement = SQL["take_back_claims"].format(where=where)
            await run(db.execute(statement, (stamp, stamp, *params)))
        return rows

    async def next_ready_at(self) -> datetime | None:
        rows = await self._fetch(SQL["next_ready_at"], ())
        return from_utc_text(rows[0][0]) if rows and rows[0][0] else None

    # --- what operators ask ---------------------------------------------------

    async def outbox_counts(self) -> dict[OutboxState, int]:
        rows = await self._fetch(SQL["outbox_counts"], ())
        return {OutboxState(state): int(n) for state, n in rows}

    async def list_outbox(
        self,
        *,
        states: Collection[OutboxState] = (),
        customer_id: str | None = None,
        rule_id: str | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[OutboxRow]:
        # Built here: the filters an operator combines (`touchflow outbox`, the console).
        clauses: list[str] = ["1 = 1"]
        params: list[str | None] = []
        if states:
            clauses.append(f"state IN ({marks(len(states))})")
            params += [s.value for s in states]
        for column, value in (("customer_id", customer_id), ("rule_id", rule_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if after is not None:
            check_keyset(after, newest_first)
            # due_at >= ? first: the index on due time starts at the page's first row.
            clauses.append("due_at >= ? AND (due_at > ? OR key > ?)")
            params += [utc_text(after[0]), utc_text(after[0]), after[1]]
        where = " AND ".join(clauses) + f" ORDER BY due_at {'DESC' if newest_first else 'ASC'}, key"
        if limit is not None:
            where += f" LIMIT {int(limit)}"
        return await self._select(SQL["outbox_where"].format(where=where), params)

    async def requeue(self, key: str, *, now: datetime, keep_for: timedelta) -> OutboxRow | None:
        """A failed, expired or cancelled row back to pending, due now (`touchflow retry`)."""
        stamp = utc_text(now)
        async with self._transaction("re-queue in") as db:
            rows = await rows_sql.select(db, SQL["outbox_row"], [key])
            if not rows or rows[0].state not in REQUEUEABLE:
                return rows[0] if rows else None
            expires = max(rows[0].expires_at, now + keep_for)
            params = (stamp, utc_text(expires), stamp, key)
            await run(db.execute(SQL["requeue"], params))
            # Tell a running daemon (it watches `changes`) to look at this customer.
            await run(db.execute(SQL["mark_changed"], (rows[0].customer_id,)))
            return (await rows_sql.select(db, SQL["outbox_row"], [key]))[0]

    async def cancel_by_hand(self, key: str, *, now: datetime, detail: str) -> HandCancel | None:
        """A pending or retrying row cancelled by a person (`touchflow cancel`)."""
        async with self._transaction("cancel in") as db:
            rows = await rows_sql.select(db, SQL["outbox_row"], [key])
            if not rows:
                return None
            params = (CANCELLED_BY_HAND, detail, utc_text(now), key)
            await run(db.execute(SQL["cancel_by_hand"], params))
            after = (await rows_sql.select(db, SQL["outbox_row"], [key]))[0]
            return HandCancel(before=rows[0], after=after)

    async def _select(self, statement: str, params: Sequence[Any]) -> list[OutboxRow]:
        async with self._transaction("read the outbox of", begin="BEGIN") as db:
            return await rows_sql.select(db, statement, params)
