"""The outbox half of the SQLite store: plan writes, claims, outcomes, changes.

A mixin of ``SqliteStore`` (same connection, same lock, same transactions).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiosqlite

from touchflow.models import OutboxRow, OutboxState, Suppression
from touchflow.store import outbox_sql as sql
from touchflow.store.values import from_utc_text, utc_text

_CHUNK = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish:
    """The outcome of one claimed row: its new state (reason, times, Message-ID...)."""

    row: OutboxRow
    attempted: bool  # a delivery was tried: counts as an attempt
    suppress: Suppression | None = None  # an address to suppress with it (a 5.1.x bounce)


class OutboxMethods:
    if TYPE_CHECKING:

        def _transaction(
            self, action: str, *, begin: str = "BEGIN IMMEDIATE"
        ) -> AbstractAsyncContextManager[aiosqlite.Connection]: ...

        async def _fetch(
            self, sql: str, params: tuple[Any, ...], *, action: str = "read"
        ) -> list[Any]: ...

    # --- what the planner wrote ----------------------------------------------

    async def outbox_by_keys(self, keys: Collection[str]) -> dict[str, OutboxRow]:
        found: dict[str, OutboxRow] = {}
        ordered = sorted(keys)
        async with self._transaction("read the outbox of", begin="BEGIN") as db:
            for start in range(0, len(ordered), _CHUNK):
                where, params = sql.in_list("key", ordered[start : start + _CHUNK])
                for row in await sql.select(db, where, params):
                    found[row.key] = row
        return found

    async def open_outbox(
        self, *, due_from: datetime, due_to: datetime, customer_ids: Collection[str] | None
    ) -> list[OutboxRow]:
        """Pending and retrying rows due in [due_from, due_to), of those customers (or all)."""
        where = "state IN ('pending', 'retry') AND due_at >= ? AND due_at < ?"
        window = [utc_text(due_from), utc_text(due_to)]
        if customer_ids is None:
            return await self._select(where, window)
        rows: list[OutboxRow] = []
        ids = sorted(customer_ids)
        for start in range(0, len(ids), _CHUNK):
            part, params = sql.in_list("customer_id", ids[start : start + _CHUNK])
            rows += await self._select(f"{where} AND {part}", [*window, *params])
        return rows

    async def open_outbox_of_other_rules(self, rule_ids: Collection[str]) -> list[OutboxRow]:
        """Pending and retrying rows of rules that are not (or no longer) in ``rule_ids``."""
        part, params = sql.in_list("rule_id", sorted(rule_ids))
        return await self._select(f"state IN ('pending', 'retry') AND NOT {part}", params)

    async def write_plan(
        self,
        inserts: Sequence[OutboxRow],
        updates: Sequence[tuple[OutboxRow, OutboxState]],
        *,
        now: datetime,
    ) -> tuple[int, int]:
        """New rows, and rows rewritten if still in the state they were read in; one transaction."""
        async with self._transaction("write the plan to") as db:
            inserted = await sql.insert(db, inserts, now) if inserts else 0
            updated = await sql.replan(db, updates, now) if updates else 0
        return inserted, updated

    # --- the dispatcher's side ------------------------------------------------

    async def claim_due(
        self, *, owner: str, now: datetime, ttl: timedelta, limit: int
    ) -> list[OutboxRow]:
        """Claim up to ``limit`` ready rows (due, or retry time reached), oldest first."""
        async with self._transaction("claim from") as db:
            return await sql.claim(db, owner=owner, now=now, until=now + ttl, limit=limit)

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
        if len(items) <= sql.FINISH_CHUNK and all(item.suppress is None for item in items):
            statement, params = sql.finish_many_statement(pairs, owner=owner, now=now)
            rows = await self._fetch(statement, params, action="record sends in")
            done = {str(r[0]) for r in rows}
        else:
            async with self._transaction("record sends in") as db:
                done = await sql.finish_many(db, pairs, owner=owner, now=now)
                for item in items:
                    if item.suppress is not None and item.row.key in done:
                        params = sql.suppression_params(item.suppress)
                        await (await db.execute(sql.UPSERT_SUPPRESSION, params)).close()
        return [item.row.key in done for item in items]

    async def reclaim(
        self, *, now: datetime, every_claim: bool = False, except_owner: str | None = None
    ) -> list[OutboxRow]:
        """Claims that timed out (or all of them: their owner is known dead) go back to retry.

        Rows are returned as they were (claimed). ``except_owner``: leave that owner's.
        """
        where = "state = 'claimed'"
        params: list[str | None] = []
        if not every_claim:
            where += " AND claim_expires_at <= ?"
            params.append(utc_text(now))
        if except_owner is not None:
            where += " AND claim_owner IS NOT ?"
            params.append(except_owner)
        stamp = utc_text(now)
        async with self._transaction("take back claims in") as db:
            rows = await sql.select(db, where, params)
            await (
                await db.execute(
                    f"UPDATE outbox SET state = 'retry', reason = 'claim_expired', "
                    f"next_attempt_at = ?, claim_owner = NULL, claim_expires_at = NULL, "
                    f"updated_at = ? WHERE {where}",
                    (stamp, stamp, *params),
                )
            ).close()
        return rows

    async def next_ready_at(self) -> datetime | None:
        rows = await self._fetch(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE state IN ('pending', 'retry')", ()
        )
        return from_utc_text(rows[0][0]) if rows and rows[0][0] else None

    # --- what operators ask ---------------------------------------------------

    async def outbox_counts(self) -> dict[OutboxState, int]:
        rows = await self._fetch("SELECT state, COUNT(*) FROM outbox GROUP BY state", ())
        return {OutboxState(state): int(n) for state, n in rows}

    async def list_outbox(
        self,
        *,
        states: Collection[OutboxState] = (),
        customer_id: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[OutboxRow]:
        clauses, params = ["1 = 1"], []
        if states:
            part, values = sql.in_list("state", [s.value for s in states])
            clauses.append(part)
            params += values
        if customer_id is not None:
            clauses.append("customer_id = ?")
            params.append(customer_id)
        where = " AND ".join(clauses) + f" ORDER BY due_at {'DESC' if newest_first else 'ASC'}, key"
        if limit is not None:
            where += f" LIMIT {int(limit)}"
        return await self._select(where, params)

    async def requeue(self, key: str, *, now: datetime, keep_for: timedelta) -> OutboxRow | None:
        """A failed, expired or cancelled row back to pending, due now (`touchflow retry`)."""
        stamp = utc_text(now)
        async with self._transaction("re-queue in") as db:
            rows = await sql.select(db, "key = ?", [key])
            if not rows or rows[0].state not in REQUEUEABLE:
                return rows[0] if rows else None
            expires = max(rows[0].expires_at, now + keep_for)
            await (
                await db.execute(
                    "UPDATE outbox SET state = 'pending', next_attempt_at = ?, expires_at = ?, "
                    "reason = 'requeued', updated_at = ? WHERE key = ?",
                    (stamp, utc_text(expires), stamp, key),
                )
            ).close()
            # Tell a running daemon (it watches `changes`) to look at this customer.
            await (
                await db.execute(
                    "INSERT INTO changes (customer_id) VALUES (?)", (rows[0].customer_id,)
                )
            ).close()
            return (await sql.select(db, "key = ?", [key]))[0]

    # --- which customers changed ----------------------------------------------

    async def pending_changes(self, *, limit: int) -> tuple[int, set[str] | None]:
        """``(last seq, customer ids)``; ids None when more than ``limit`` changed (plan all)."""
        # Count distinct customers only up to the limit: after a big import the table has
        # a row per change, and run --once asks twice (touchflow.send.daemon._warm_up).
        rows = await self._fetch(
            "SELECT (SELECT MAX(seq) FROM changes), COUNT(*) FROM "
            "(SELECT DISTINCT customer_id FROM changes LIMIT ?)",
            (limit + 1,),
        )
        last, count = rows[0]
        if last is None:
            return 0, set()
        if count > limit:
            return int(last), None
        ids = await self._fetch("SELECT DISTINCT customer_id FROM changes WHERE seq <= ?", (last,))
        return int(last), {str(r[0]) for r in ids}

    async def drop_changes(self, upto: int) -> None:
        async with self._transaction("clear changes in") as db:
            await (await db.execute("DELETE FROM changes WHERE seq <= ?", (upto,))).close()

    async def _select(self, where: str, params: Sequence[Any]) -> list[OutboxRow]:
        async with self._transaction("read the outbox of", begin="BEGIN") as db:
            return await sql.select(db, where, params)


REQUEUEABLE = (OutboxState.FAILED, OutboxState.EXPIRED, OutboxState.CANCELLED)
