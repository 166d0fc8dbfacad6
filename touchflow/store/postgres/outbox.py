"""The outbox in the PostgreSQL store: plan writes, claims, outcomes, take-backs, re-queues.

Many rows go in one statement as arrays (``unnest``); claims and take-backs lock
what they take with ``FOR UPDATE SKIP LOCKED``, so two daemons never take one row;
every write names the state it expects a row in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from touchflow.models import CANCELLED_BY_HAND, OutboxRow, OutboxState, Suppression
from touchflow.store.boundary import REQUEUEABLE
from touchflow.store.postgres import outbox_rows
from touchflow.store.postgres.columns import aware, outbox_row, suppression_params
from touchflow.store.postgres.connection import Connection, changed, fetch
from touchflow.store.postgres.queries import SQL
from touchflow.store.values import check_keyset
from touchflow.store.writes import Finish, HandCancel


class OutboxMethods(Connection):
    # --- what the planner wrote ----------------------------------------------

    async def outbox_by_keys(self, keys: Collection[str]) -> dict[str, OutboxRow]:
        rows = await self._select(SQL["outbox_rows_in"], (sorted(keys),))
        return {row.key: row for row in rows}

    async def open_outbox(
        self, *, due_from: datetime, due_to: datetime, customer_ids: Collection[str] | None
    ) -> list[OutboxRow]:
        window = (aware(due_from), aware(due_to))
        if customer_ids is None:
            return await self._select(SQL["open_outbox"], window)
        return await self._select(SQL["open_outbox_of_customers_in"], (*window, list(customer_ids)))

    async def sent_of_customers(
        self, customer_ids: Collection[str], *, due_from: datetime, due_to: datetime
    ) -> list[OutboxRow]:
        window = (aware(due_from), aware(due_to))
        ids = sorted(set(customer_ids))
        return await self._select(SQL["sent_of_customers_between"], (*window, ids))

    async def open_outbox_of_other_rules(self, rule_ids: Collection[str]) -> list[OutboxRow]:
        return await self._select(SQL["open_outbox_of_other_rules"], (sorted(rule_ids),))

    async def open_outbox_without_customer(self) -> list[OutboxRow]:
        return await self._select(SQL["open_outbox_without_customer"], ())

    async def write_plan(
        self,
        inserts: Sequence[OutboxRow],
        updates: Sequence[tuple[OutboxRow, OutboxState]],
        *,
        now: datetime,
    ) -> tuple[int, int]:
        async with self._transaction("write the plan to") as db:
            inserted = await outbox_rows.insert(db, inserts, aware(now)) if inserts else 0
            updated = await outbox_rows.replan(db, updates, aware(now)) if updates else 0
            if inserted or updated:  # the other daemons' dispatchers look (at commit)
                await db.execute(SQL["notify_ready"])
        return inserted, updated

    # --- the dispatcher's side ------------------------------------------------

    async def claim_due(
        self, *, owner: str, now: datetime, ttl: timedelta, limit: int
    ) -> list[OutboxRow]:
        params = {"owner": owner, "now": aware(now), "until": now + ttl, "limit": limit}
        # Binary rows: a claim returns hundreds, six instants each.
        found = await self._fetch(SQL["claim"], params, action="claim from", binary=True)
        rows = [outbox_row(r) for r in found]
        return sorted(rows, key=lambda r: (r.next_attempt_at, r.key))

    async def finish_claim(
        self,
        row: OutboxRow,
        *,
        owner: str,
        now: datetime,
        attempted: bool,
        suppress: Suppression | None = None,
    ) -> bool:
        item = Finish(row=row, attempted=attempted, suppress=suppress)
        return (await self.finish_claims([item], owner=owner, now=now))[0]

    async def finish_claims(
        self, items: Sequence[Finish], *, owner: str, now: datetime
    ) -> list[bool]:
        """Outcomes and the suppressions they bring, in one transaction: one statement for
        the outcomes (alone, its own transaction), one per suppression of a row that was
        still ours."""
        if not items:
            return []
        params = outbox_rows.finish_params(items, owner=owner, now=aware(now))
        if all(item.suppress is None for item in items):  # the common case: one round trip
            rows = await self._fetch(
                SQL["finish_claims"], params, action="record sends in", outcome=True
            )
            done = {str(r[0]) for r in rows}
            return [item.row.key in done for item in items]
        async with self._transaction("record sends in", outcome=True) as db:
            done = {str(r[0]) for r in await fetch(db, SQL["finish_claims"], params)}
            for item in items:
                if item.suppress is not None and item.row.key in done:
                    await db.execute(SQL["upsert_suppression"], suppression_params(item.suppress))
        return [item.row.key in done for item in items]

    async def renew_claims(
        self, *, owner: str, keys: Collection[str], now: datetime, ttl: timedelta
    ) -> int:
        params = {"until": aware(now) + ttl, "owner": owner, "keys": sorted(keys)}
        async with self._transaction("renew claims in") as db:
            return await changed(db, SQL["renew_claims"], params)

    async def reclaim(
        self,
        *,
        now: datetime,
        owners_gone: bool = False,
        me: str | None = None,
        owner: str | None = None,
    ) -> list[OutboxRow]:
        # Built here: which claims are taken back is a combination of three choices.
        params: dict[str, Any] = {"now": aware(now), "me": me}
        if owner is not None:
            where = "state = 'claimed' AND claim_owner = %(only)s"
            params["only"] = owner
        elif owners_gone:  # several daemons may run: those whose session ended
            gone = f"claim_owner IS DISTINCT FROM %(me)s AND {SQL['owner_gone']}"
            where = f"state = 'claimed' AND (claim_expires_at <= %(now)s OR ({gone}))"
        else:
            where = "state = 'claimed' AND claim_expires_at <= %(now)s"
        statement = SQL["take_back_claims"].format(where=where)
        return await self._select(statement, params, action="take back claims in")

    async def next_ready_at(self) -> datetime | None:
        rows = await self._fetch(SQL["next_ready_at"])
        found: datetime | None = rows[0][0]
        return found

    # --- what operators ask ---------------------------------------------------

    async def outbox_counts(self) -> dict[OutboxState, int]:
        rows = await self._fetch(SQL["outbox_counts"])
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
        clauses = ["TRUE"]
        params: dict[str, Any] = {"states": [s.value for s in states], "limit": limit}
        if states:
            clauses.append("state = ANY(%(states)s)")
        for column, value in (("customer_id", customer_id), ("rule_id", rule_id)):
            if value is not None:
                clauses.append(f"{column} = %({column})s")
                params[column] = value
        if after is not None:
            check_keyset(after, newest_first)
            clauses.append("(due_at, key) > (%(after_due)s, %(after_key)s)")
            params.update(after_due=after[0], after_key=after[1])
        order = "DESC" if newest_first else "ASC"
        where = " AND ".join(clauses) + f" ORDER BY due_at {order}, key LIMIT %(limit)s"
        return await self._select(SQL["outbox_where"].format(where=where), params)

    async def requeue(self, key: str, *, now: datetime, keep_for: timedelta) -> OutboxRow | None:
        async with self._transaction("re-queue in") as db:
            rows = await fetch(db, SQL["requeue_row"], (key,))
            if not rows or rows[0][5] not in {s.value for s in REQUEUEABLE}:
                return outbox_row(rows[0]) if rows else None
            expires = max(rows[0][7], aware(now) + keep_for)
            params = {"now": now, "expires": expires, "key": key}
            row = outbox_row((await fetch(db, SQL["requeue"], params))[0])
            # Tell a running daemon (it watches `changes`) to look at this customer.
            await db.execute(SQL["mark_changed"], (row.customer_id,))
            return row

    async def cancel_by_hand(self, key: str, *, now: datetime, detail: str) -> HandCancel | None:
        async with self._transaction("cancel in") as db:
            # Locked first (as a re-queue): a claim of this row waits or skips it.
            rows = await fetch(db, SQL["requeue_row"], (key,))
            if not rows:
                return None
            before = outbox_row(rows[0])
            params = {"reason": CANCELLED_BY_HAND, "detail": detail, "now": aware(now), "key": key}
            done = await fetch(db, SQL["cancel_by_hand"], params)
            return HandCancel(before=before, after=outbox_row(done[0]) if done else before)

    async def _select(
        self, statement: str, params: Sequence[Any] | dict[str, Any], *, action: str = "read"
    ) -> list[OutboxRow]:
        given = params if isinstance(params, dict) else tuple(params)
        rows = await self._fetch(statement, given, action=action)
        return [outbox_row(r) for r in rows]
