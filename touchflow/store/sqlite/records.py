"""What `touchflow customers|events|suppressions|sample --remove` read and delete.

Lists are pages in a stable order (customers by id, after a given id), so a
million customers never come back in one answer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from touchflow.models import Customer, Event, Suppression, SuppressionScope
from touchflow.store.sqlite.columns import customer, recorded_event, suppression
from touchflow.store.sqlite.connection import Connection, changed, chunks
from touchflow.store.sqlite.queries import SQL, marks
from touchflow.store.writes import Removal, hashed_address

# What delete_customers deletes, chunk by chunk, and the key it counts in Removal.
_DELETES = (
    ("customers", "delete_customers_in"),
    ("events", "delete_events_of_customers_in"),
    ("outbox", "delete_outbox_of_customers_in"),
)


class RecordMethods(Connection):
    async def list_customers(
        self, *, after: str = "", limit: int, email: str | None = None
    ) -> list[Customer]:
        """Up to ``limit`` customers with ids after ``after``, by id; ``email``: only those
        with this address (case-insensitive)."""
        if email is None:
            rows = await self._fetch(SQL["list_customers"], (after, limit))
        else:
            params = (after, email.strip().lower(), limit)
            rows = await self._fetch(SQL["list_customers_by_email"], params)
        return [customer(row) for row in rows]

    async def customer_events(
        self, customer_id: str, *, limit: int | None = None
    ) -> tuple[list[Event], int]:
        """A customer's events, newest first (up to ``limit``), and how many there are."""
        count = await self._fetch(SQL["count_events_of_customer"], (customer_id,))
        rows = await self._fetch(
            SQL["events_of_customer_newest_first"],
            (customer_id, -1 if limit is None else limit),  # LIMIT -1: no limit
        )
        return [recorded_event(row) for row in rows], int(count[0][0])

    async def list_suppressions(
        self, *, email: str | None = None, limit: int | None = None
    ) -> list[Suppression]:
        """Suppressions, newest first; ``email``: those of this address, also kept hashed
        after an erasure."""
        most = -1 if limit is None else limit
        if email is None:
            rows = await self._fetch(SQL["list_suppressions"], (most,))
        else:
            plain = email.strip().lower()
            params = (plain, hashed_address(plain), most)
            rows = await self._fetch(SQL["list_suppressions_of_address"], params)
        return [suppression(row) for row in rows]

    async def remove_suppressions(self, email: str, scopes: Collection[SuppressionScope]) -> int:
        """Lift the suppressions of ``email`` (plain or hashed) in these scopes; how many.

        The address's customers are marked changed: their held touchpoints are re-planned.
        """
        plain = email.strip().lower()
        statement = SQL["remove_suppressions"].format(marks=marks(len(scopes)))
        async with self._transaction("remove suppressions from") as db:
            params = (plain, hashed_address(plain), *(s.value for s in scopes))
            removed = await changed(db, statement, params)
            if removed:  # no trigger on DELETE: tell a running daemon here
                await changed(db, SQL["mark_address_changed"], (plain,))
        return removed

    async def delete_customers(
        self, customer_ids: Sequence[str], suppressions: Sequence[Suppression] = ()
    ) -> Removal:
        """Delete these customers with every event and outbox row of theirs, and these
        suppressions (by address and scope), in one transaction: no trace is kept
        (unlike an erasure, which keeps sent rows and hashed suppressions)."""
        counts = {"customers": 0, "events": 0, "outbox": 0}
        async with self._transaction("delete customers from") as db:
            for chunk in chunks(customer_ids):
                ids, filled = tuple(chunk), marks(len(chunk))
                for table, name in _DELETES:
                    counts[table] += await changed(db, SQL[name].format(marks=filled), ids)
                # Last: the deletes above must not leave the daemon a change to plan.
                statement = SQL["delete_changes_of_customers_in"].format(marks=filled)
                await changed(db, statement, ids)
            removed = 0
            for s in suppressions:
                params = (s.email.strip().lower(), s.scope.value)
                removed += await changed(db, SQL["delete_suppression"], params)
        return Removal(
            customers=counts["customers"], events=counts["events"],
            touchpoints=counts["outbox"], suppressions=removed,
        )  # fmt: skip

    async def existing_customer_ids(self, customer_ids: Sequence[str]) -> set[str]:
        """Which of these ids are customers in the store."""
        found: set[str] = set()
        for chunk in chunks(customer_ids):
            statement = SQL["customer_ids_in"].format(marks=marks(len(chunk)))
            rows = await self._fetch(statement, tuple(chunk))
            found.update(str(row[0]) for row in rows)
        return found
