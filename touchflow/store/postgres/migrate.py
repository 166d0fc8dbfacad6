"""The PostgreSQL store's schema: created on a new database, upgraded on an old one.

``schema.sql`` is version 1, run whole in one transaction; a later version adds a
step (``upgrade_<n>.sql``, from n - 1 to n) and raises ``SCHEMA_VERSION``, never
edits what an earlier version created. A new database is made at version 1 and
taken through every step, so a new store and an upgraded one are the same. Every
opener migrates under one advisory lock, so two processes opening a new database at
once do not race; a database whose schema is newer than this touchflow knows is
refused, not guessed at.
"""

from __future__ import annotations

from touchflow.errors import StoreError
from touchflow.store import named_sql
from touchflow.store.postgres.connection import Db, fetch
from touchflow.store.postgres.queries import SCHEMA, SQL

# 2: the changes notify the daemons (LISTEN/NOTIFY); 3: plan_ranges; 4: events.recorded_at;
# 5: the outbox's indexes for the console's pages; 6: outbox.channel; 7: customers.consent_sms
# and suppressed phone numbers
SCHEMA_VERSION = 7


async def migrate(db: Db, shown: str) -> tuple[int, int]:
    """Bring the schema to ``SCHEMA_VERSION`` in one transaction: the versions before
    and after (0 before: there was none)."""
    async with db.transaction():
        await db.execute(SQL["schema_lock"])
        if not (await fetch(db, SQL["has_schema"]))[0][0]:
            await db.execute(SCHEMA)  # a whole file, no parameters: version 1
            before = 0
            version = 1
        else:
            rows = await fetch(db, SQL["schema_version"])
            before = version = _version(rows[0][0] if rows else None, shown)
        for step in range(version + 1, SCHEMA_VERSION + 1):
            await db.execute(named_sql.read(__package__, f"upgrade_{step}.sql"))
        return before, SCHEMA_VERSION


async def version_of(db: Db, shown: str) -> int | None:
    """The schema's version as it is, without a lock or a change; None if none."""
    if not (await fetch(db, SQL["has_schema"]))[0][0]:
        return None
    rows = await fetch(db, SQL["schema_version"])
    return _version(rows[0][0] if rows else None, shown, newer_ok=True)


async def drop(db: Db) -> None:
    """Drop every table and function of the store, in one transaction."""
    async with db.transaction():
        await db.execute(SQL["schema_lock"])
        await db.execute(SQL["drop_schema"])


def _version(value: object, shown: str, *, newer_ok: bool = False) -> int:
    try:
        version = int(str(value))
    except ValueError:
        version = -1
    if version > SCHEMA_VERSION and not newer_ok:
        raise StoreError(
            f"store {shown} has schema version {version}, newer than this touchflow knows "
            f"({SCHEMA_VERSION}): it was written by a later touchflow; run that one, or "
            "upgrade this one"
        )
    if version < 1:
        raise StoreError(
            f"store {shown} has a meta table without a schema version touchflow wrote "
            f"({value!r}): is this database another program's?"
        )
    return version
