"""What `touchflow customers|events|suppressions|sample --remove` read and delete.

Lists are pages in a stable order (customers by id, after a given id), so a million
customers never come back in one answer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from touchflow.models import Customer, Event, Suppression, SuppressionScope
from touchflow.store.postgres.columns import customer, recorded_event, suppression
from touchflow.store.postgres.connection import Connection, changed
from touchflow.store.postgres.queries import SQL
from touchflow.store.writes import Removal, hashed_address


class RecordMethods(Connection):
    async def list_customers(
        self, *, after: str = "", limit: int, email: str | None = None
    ) -> list[Customer]:
        if email is None:
            rows = await self._fetch(SQL["list_customers"], (after, limit))
        else:
            params = (after, email.strip().lower(), limit)
            rows = await self._fetch(SQL["list_customers_by_email"], params)
        return [customer(row) for row in rows]

    async def customer_events(
        self, customer_id: str, *, limit: int | None = None
    ) -> tuple[list[Event], int]:
        async with self._transaction("read", snapshot=True) as db:
            cursor = await db.execute(SQL["count_events_of_customer"], (customer_id,))
            count = await cursor.fetchone()
            newest = SQL["events_of_customer_newest_first"]
            rows = await (await db.execute(newest, (customer_id, limit))).fetchall()
        return [recorded_event(row) for row in rows], int(count[0]) if count else 0

    async def list_suppressions(
        self, *, email: str | None = None, limit: int | None = None
    ) -> list[Suppression]:
        if email is None:
            rows = await self._fetch(SQL["list_suppressions"], (limit,))
        else:
            plain = email.strip().lower()
            params = (plain, hashed_address(plain), limit)
            rows = await self._fetch(SQL["list_suppressions_of_address"], params)
        return [suppression(row) for row in rows]

    async def remove_suppressions(self, email: str, scopes: Collection[SuppressionScope]) -> int:
        plain = email.strip().lower()
        async with self._transaction("remove suppressions from") as db:
            params = (plain, hashed_address(plain), [s.value for s in scopes])
            removed = await changed(db, SQL["remove_suppressions"], params)
            if removed:  # no trigger on DELETE: tell a running daemon here
                await changed(db, SQL["mark_address_changed"], (plain, plain))
        return removed

    async def delete_customers(
        self, customer_ids: Sequence[str], suppressions: Sequence[Suppression] = ()
    ) -> Removal:
        ids = (list(customer_ids),)
        async with self._transaction("delete customers from") as db:
            customers = await changed(db, SQL["delete_customers_in"], ids)
            events = await changed(db, SQL["delete_events_of_customers_in"], ids)
            touchpoints = await changed(db, SQL["delete_outbox_of_customers_in"], ids)
            # Last: the deletes above must not leave the daemon a change to plan.
            await changed(db, SQL["delete_changes_of_customers_in"], ids)
            removed = 0
            for s in suppressions:
                params = (s.email.strip().lower(), s.scope.value)
                removed += await changed(db, SQL["delete_suppression"], params)
        return Removal(
            customers=customers, events=events, touchpoints=touchpoints, suppressions=removed
        )

    async def existing_customer_ids(self, customer_ids: Sequence[str]) -> set[str]:
        rows = await self._fetch(SQL["customer_ids_in"], (list(customer_ids),))
        return {str(row[0]) for row in rows}
