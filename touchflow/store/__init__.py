"""Where customers, events, suppressions and the outbox live: the ``Store`` boundary.

Callers get a store from ``open_store(location)`` and speak to it through the
Protocols of ``touchflow.store.boundary``; the values those carry are here too.
Implementations live in sub-packages (``sqlite/``), each with its SQL beside it,
and ``tests/contract`` runs one suite over every one of them.
"""

from __future__ import annotations

from touchflow.store.boundary import (
    EVERYONE,
    PAGE_SIZE,
    REQUEUEABLE,
    BulkWrite,
    FactsStore,
    OutboxStore,
    RecordsStore,
    Store,
    Written,
)
from touchflow.store.counts import DaemonSession, StatsStore
from touchflow.store.factory import (
    StoreLocationError,
    WriterLock,
    drop_store,
    migrate_store,
    open_store,
    schema_versions,
    writer_lock,
)
from touchflow.store.planning import ChangesStore, IdRange, PlanRunsStore, RangeTaken
from touchflow.store.writes import (
    CustomersWrite,
    Erasure,
    EventsWrite,
    Finish,
    Removal,
    hashed_address,
)

__all__ = [
    "EVERYONE",
    "PAGE_SIZE",
    "REQUEUEABLE",
    "BulkWrite",
    "ChangesStore",
    "CustomersWrite",
    "DaemonSession",
    "Erasure",
    "EventsWrite",
    "FactsStore",
    "Finish",
    "IdRange",
    "OutboxStore",
    "PlanRunsStore",
    "RangeTaken",
    "RecordsStore",
    "Removal",
    "StatsStore",
    "Store",
    "StoreLocationError",
    "WriterLock",
    "Written",
    "drop_store",
    "hashed_address",
    "migrate_store",
    "open_store",
    "schema_versions",
    "writer_lock",
]
