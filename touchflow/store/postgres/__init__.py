"""The PostgreSQL implementation of the ``Store``: for more than one machine (issue 16).

``open_store`` (``touchflow.store``) opens it for a ``postgresql://`` location; only
the store's own wing names ``PostgresStore``. Its SQL lives beside it: ``schema.sql``
(and the upgrades of later versions) and the named statements of ``queries.sql``.
It needs the driver, an extra: ``pip install touchflow[postgresql]``.
"""

from __future__ import annotations

from touchflow.store.postgres.migrate import SCHEMA_VERSION
from touchflow.store.postgres.store import PostgresStore

__all__ = ["SCHEMA_VERSION", "PostgresStore"]
