"""The daemon's full plan of a generated project: what lets it pause the collector.

``touchflow.send.replan`` pauses the cyclic collector for a full plan's every page
(read, planned, written into the outbox): that is only safe while doing so leaves
no reference cycles behind, which this checks on the benchmark's generated data.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from touchflow.models import Window
from touchflow.project import load_project_checked
from touchflow.send.replan import plan_into_outbox
from touchflow.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import gen

NOW = datetime.fromisoformat("2026-11-23T08:00:00+00:00")
CUSTOMERS = 1500


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = gen.make_project(tmp_path_factory.mktemp("daemon-plan") / "project")
    asyncio.run(gen.fill_store(root, CUSTOMERS, seed=7, now=NOW))
    return root


async def cycles_left_by_a_full_plan(project: Path, page_size: int) -> int:
    """Objects in reference cycles after a full plan of 30 days into an empty outbox."""
    loaded = load_project_checked(project)
    window = Window(start=NOW, end=NOW + timedelta(days=30))
    async with await SqliteStore.open(loaded.config.store_file()) as store:
        gc.collect()
        gc.disable()
        try:
            run = await plan_into_outbox(loaded, store, window=window, now=NOW, page_size=page_size)
            found = gc.collect()
        finally:
            gc.enable()
        assert run.customers == CUSTOMERS and run.inserted > 1000
    return found


async def test_writing_a_full_plan_makes_no_cycles(generated: Path, tmp_path: Path) -> None:
    """The planner's caches are cyclic (per zone, rule and day: they live as long as the
    plan, and one collection after it frees them); the pages make none: 1 page or 15
    of the same customers leave the same cycles."""
    found = []
    for page_size in (CUSTOMERS, 100):
        copy = tmp_path / f"pages-of-{page_size}"
        shutil.copytree(generated, copy)
        found.append(await cycles_left_by_a_full_plan(copy, page_size))
    assert abs(found[1] - found[0]) < 100, found  # the event loop may leave a few
