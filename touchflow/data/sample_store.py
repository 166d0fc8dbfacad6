"""The sample in a store: which rows are the sample's, and removing just those.

The ids of the sample's customers (and the sample's suppressions) are kept in
the store's meta table when it is loaded, so a sample customer edited later is
still the sample's. A store loaded before those were kept is read from the
sample files, rendered as on the day it was loaded.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from touchflow.config.project_config import ProjectConfig
from touchflow.data.sample_data import (
    META_CUSTOMERS,
    META_LOADED_AT,
    META_SUPPRESSIONS,
    mark_sample,
    parse_sample_records,
)
from touchflow.models import Suppression, SuppressionScope
from touchflow.store import Removal, Store

_NAMED = 5  # ids named in a note; the rest are counted


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRows:
    customer_ids: tuple[str, ...]
    suppressions: tuple[Suppression, ...]


async def sample_rows(store: Store, config: ProjectConfig) -> SampleRows:
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
        country=config.country,
    )
    return SampleRows(customer_ids=tuple(c.id for c in customers), suppressions=tuple(suppressions))


async def sample_customers_present(store: Store, config: ProjectConfig) -> list[str]:
    """The sample's customers still in the store, by id."""
    rows = await sample_rows(store, config)
    if not rows.customer_ids:
        return []
    return sorted(await store.existing_customer_ids(rows.customer_ids))


async def remove_sample(store: Store, config: ProjectConfig) -> Removal:
    """Delete the sample's customers (events, touchpoints) and suppressions, nothing else;
    afterwards no row counts as the sample's, and it is not loaded again by itself."""
    rows = await sample_rows(store, config)
    removal = await store.delete_customers(rows.customer_ids, rows.suppressions)
    await mark_sample(store, [], [])
    return removal


async def after_import(
    store: Store, config: ProjectConfig, imported_ids: Collection[str]
) -> list[str]:
    """After an import of customers: what to tell about the sample. A sample customer the
    import replaced (the same id) is the user's from now on, so `sample --remove` keeps it;
    the sample's customers still in the store are a warning."""
    rows = await sample_rows(store, config)
    taken = sorted(set(rows.customer_ids).intersection(imported_ids))
    notes = []
    if taken:
        kept = [i for i in rows.customer_ids if i not in set(taken)]
        await mark_sample(store, kept, rows.suppressions)
        notes.append(
            f"note: the import replaced {_named(taken)} of the sample data; "
            "they are yours now and `touchflow sample --remove` keeps them."
        )
    present = await sample_customers_present(store, config)
    if present:
        notes.append(
            f"warning: this store also holds the sample data ({_named(present)}), and "
            "touchflow would send to them as well. `touchflow sample --remove` deletes the "
            "sample's customers, events, touchpoints and suppressions, and nothing else."
        )
    return notes


def _named(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_NAMED]) + (", …" if len(ids) > _NAMED else "")
    return f"{len(ids)} customer{'' if len(ids) == 1 else 's'}: {shown}"
