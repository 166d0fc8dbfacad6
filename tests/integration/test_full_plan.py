"""The daemon's full plan reads everyone a page at a time: same outbox, bounded memory."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path

import pytest

from tests.daemon_support import write_project
from touchflow.app import ensure_sample, open_store
from touchflow.models import Customer, Event, OutboxState, Window
from touchflow.planner import Planner, plan
from touchflow.project import Project, load_project_checked
from touchflow.replan import plan_into_outbox
from touchflow.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
WINDOW = Window(start=NOW - timedelta(days=1), end=NOW + timedelta(days=2))
REPO = Path(__file__).resolve().parents[2]
IDS = [f"c{i}" for i in range(5)]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return load_project_checked(write_project(tmp_path, customers=[]))


@pytest.fixture
async def store(project: Project) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(project.config.store_file()) as opened:
        await opened.upsert_customers([Customer(id=i, email=f"{i}@example.com") for i in IDS])
        await opened.add_events([inquiry(i) for i in IDS])
        yield opened


def inquiry(customer: str) -> Event:
    data = {"inquiry_id": f"q-{customer}", "subject": "Hi"}
    at = NOW - timedelta(minutes=5)
    kind = "inquiry_received"
    return Event(id=f"q-{customer}", type=kind, customer_id=customer, at=at, data=data)


def outbox(store: SqliteStore) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(store.path) as db:
        rows = db.execute("SELECT key, state, last_error FROM outbox").fetchall()
    return {key: (state, error) for key, state, error in rows}


async def test_planning_in_pages_of_two_writes_what_one_page_writes(
    project: Project, store: SqliteStore, tmp_path: Path
) -> None:
    paged = await plan_into_outbox(project, store, window=WINDOW, now=NOW, page_size=2)
    assert (paged.customers, paged.touchpoints, paged.inserted) == (5, 10, 10)
    in_pages = outbox(store)
    with sqlite3.connect(store.path) as db:
        db.execute("DELETE FROM outbox")
    whole = await plan_into_outbox(project, store, window=WINDOW, now=NOW, page_size=100)
    assert (whole.customers, whole.touchpoints) == (5, 10)
    assert outbox(store) == in_pages
    assert {key.split(":")[1] for key in in_pages} == set(IDS)


async def test_a_second_full_plan_writes_nothing(project: Project, store: SqliteStore) -> None:
    await plan_into_outbox(project, store, window=WINDOW, now=NOW, page_size=2)
    again = await plan_into_outbox(project, store, window=WINDOW, now=NOW, page_size=2)
    assert (again.inserted, again.updated, again.transitions) == (0, 0, [])


async def test_open_rows_of_a_customer_no_longer_in_the_store_are_cancelled(
    project: Project, store: SqliteStore
) -> None:
    await plan_into_outbox(project, store, window=WINDOW, now=NOW, page_size=2)
    with sqlite3.connect(store.path) as db:
        db.execute("DELETE FROM customers WHERE id = 'c3'")
    run = await plan_into_outbox(project, store, window=WINDOW, now=NOW, page_size=2)
    rows = outbox(store)
    gone = {key: row for key, row in rows.items() if ":c3:" in key}
    assert len(gone) == 2
    assert all(state == OutboxState.CANCELLED for state, _ in gone.values())
    assert all(error == "the customer is no longer in the store" for _, error in gone.values())
    assert {r.row.customer_id for r in run.transitions} == {"c3"}
    assert all(state == "pending" for key, (state, _) in rows.items() if key not in gone)


async def test_the_sample_planned_in_pages_of_three_is_the_sample_planned_at_once(
    tmp_path: Path,
) -> None:
    for part in ("touchflow.yaml", "rules", "message_templates", "sample"):
        source = REPO / part
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, tmp_path / part)
    sample = load_project_checked(tmp_path)
    window = Window.of_days(NOW, 400)  # a year: every kind of rule comes due
    async with await open_store(sample.config) as opened:
        await ensure_sample(opened, sample.config, NOW, lambda _: None)
        everyone = await opened.load_facts()
        pages = [page async for page in opened.facts_pages(page_size=3)]
    at_once = plan(sample.rules, everyone, window=window, config=sample.config)
    planner = Planner(sample.rules, window=window, config=sample.config)
    in_pages = [tp for page in pages for tp in planner.plan(page)]
    assert len(pages) > 2
    assert len(at_once) > 50
    assert sorted(in_pages, key=attrgetter("key")) == sorted(at_once, key=attrgetter("key"))
