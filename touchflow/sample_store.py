"""The sample in a store: which rows are the sample's, and removing just those.

The ids of the sample's customers (and the sample's suppressions) are kept in
the store's meta table when it is loaded, so a sample customer edited later is
still the sample's. A store loaded before those were kept is read from the
sample files, rendered as on the day it was loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from touchflow.config import ProjectConfig
from touchflow.models import Suppression, SuppressionScope
from touchflow.sample_data import (
    META_CUSTOMERS,
    META_LOADED_AT,
    META_SUPPRESSIONS,
    mark_sample,
    parse_sample_records,
)
from touchflow.store.sqlite import SqliteStore
from touchflow.store.sqlite_records import Removal

_NAMED = 5  # ids named in a note; the rest are counted


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRows:
    customer_ids: tuple[str, ...]
    suppressions: tuple[Suppression, ...]


async def sample_rows(store: SqliteStore, config: ProjectConfig) -> SampleRows:
    """What the sample put into this store (nothing if it never did, or it was removed)."""
    ids = await store.get_meta(META_CUSTOMERS)
    if ids is not None:
        pairs = json.loads(await store.get_meta(META_SUPPRESSIONS) or "[]")
        return SampleRows(
            customer_ids=tuple(json.loads(ids)),
            suppressions=tuple(
                Suppression(email=email, scope=SuppressionScope(scope)) for email, scope in pairs
            ),
        )
    loaded = await store.get_meta(META_LOADED_AT)
    if loaded is None or config.sample_dir is None or not config.sample_dir.is_dir():
        return SampleRows(customer_ids=(), suppressions=())
    customers, suppressions = parse_sample_records(
        config.sample_dir,
        now=datetime.fromisoformat(loaded),
        attribute_types=config.customer_attributes,
    )
    return SampleRows(customer_ids=tuple(c.id for c in customers), suppressions=tuple(suppressions))


async def sample_customers_present(store: SqliteStore, config: ProjectConfig) -> list[str]:
    """The sample's customers still in the store, by id."""
    rows = await sample_rows(store, config)
    if not rows.customer_ids:
        return []
    return sorted(await store.existing_customer_ids(rows.customer_ids))


async def remove_sample(store: SqliteStore, config: ProjectConfig) -> Removal:
    """Delete the sample's customers (events, touchpoints) and suppressions, nothing else;
    afterwards no row counts as the sample's, and it is not loaded again by itself."""
    rows = await sample_rows(store, config)
    removal = await store.delete_customers(rows.customer_ids, rows.suppressions)
    await mark_sample(store, [], [])
    return removal


async def mixed_note(store: SqliteStore, config: ProjectConfig) -> str | None:
    """After an import: a warning if the sample's customers are still in the store."""
    present = await sample_customers_present(store, config)
    if not present:
        return None
    named = ", ".join(present[:_NAMED]) + (", …" if len(present) > _NAMED else "")
    return (
        f"warning: this store also holds the sample data ({len(present)} customers: {named}), "
        "and touchflow would send to them as well. `touchflow sample --remove` deletes the "
        "sample's customers, events, touchpoints and suppressions, and nothing else."
    )
