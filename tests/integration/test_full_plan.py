"""Full plans and previews read everyone a page at a time: same results, bounded memory."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path

import pytest
from daemon_support import copy_sample, sample_store, write_project

from touchflow.cli.preview_json import json_runs_in_processes, write_json
from touchflow.models import Customer, Event, OutboxState, Window
from touchflow.plan.from_store import PlanRequest, plan_from_store, plan_pages
from touchflow.plan.id_ranges import in_processes
from touchflow.plan.planner import Planner, plan
from touchflow.plan.preview import json_runs, render_all, to_json, write_runs
from touchflow.project import Project, load_project_checked
from touchflow.send.replan import plan_into_outbox
from touchflow.store import IdRange
from touchflow.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
WINDOW = Window(start=NOW - timedelta(days=1), end=NOW + timedelta(days=2))
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
    assert (again.inserted, again.updated, again.transitions) == (0, 0, 0)


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
    assert run.transitions == 2  # c3's two rows, nobody else's
    assert all(state == "pending" for key, (state, _) in rows.items() if key not in gone)


@pytest.fixture
async def sample(tmp_path: Path) -> AsyncIterator[tuple[Project, SqliteStore]]:
    project = load_project_checked(copy_sample(tmp_path))
    async with sample_store(project, NOW) as opened:
        yield project, opened


YEAR = Window.of_days(NOW, 400)  # every kind of rule comes due


async def test_the_sample_planned_in_pages_of_three_is_the_sample_planned_at_once(
    sample: tuple[Project, SqliteStore],
) -> None:
    project, store = sample
    everyone = await store.load_facts()
    pages = [page async for page in store.facts_pages(page_size=3)]
    at_once = plan(project.rules, everyone, window=YEAR, config=project.config)
    planner = Planner(project.rules, window=YEAR, config=project.config)
    in_pages = [tp for page in pages for tp in planner.plan(page)]
    assert len(pages) > 2
    assert len(at_once) > 50
    assert sorted(in_pages, key=attrgetter("key")) == sorted(at_once, key=attrgetter("key"))


@pytest.mark.parametrize("show_all", [False, True])
async def test_preview_json_written_a_page_at_a_time_is_the_whole_document(
    sample: tuple[Project, SqliteStore], show_all: bool, tmp_path: Path
) -> None:
    project, store = sample
    request = PlanRequest(window=YEAR)
    items = render_all(project, await plan_from_store(project, store, request))
    shown = [i for i in items if show_all or i.touchpoint.reason is None]
    pages = plan_pages(project, store, request, page_size=3)
    out = io.StringIO()
    runs = await json_runs(project, pages, tmp_path, show_all=show_all)
    assert len(runs) > 2  # one run a page, merged
    write_runs(runs, out)
    assert out.getvalue() == to_json(shown) + "\n"
    assert len(json.loads(out.getvalue())) == len(shown) > 50


async def test_preview_json_keeps_line_separators_in_messages_as_they_are(
    sample: tuple[Project, SqliteStore], tmp_path: Path
) -> None:
    project, store = sample
    customer = (await store.load_facts())[0].customer
    odd = "Ana\u2028Maria\u2029Lu\u0085Ko"  # line breaks to str.splitlines, not to JSON
    await store.upsert_customers([dataclasses.replace(customer, first_name=odd)])
    request = PlanRequest(window=YEAR, customer=customer.id)
    items = render_all(project, await plan_from_store(project, store, request))
    out = io.StringIO()
    write_runs(
        await json_runs(project, plan_pages(project, store, request), tmp_path, show_all=True), out
    )
    assert out.getvalue() == to_json(items) + "\n"
    assert any(odd in element["text"] for element in json.loads(out.getvalue()))


async def test_preview_json_merges_many_runs_a_few_at_a_time(
    sample: tuple[Project, SqliteStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, store = sample
    request = PlanRequest(window=YEAR)
    items = render_all(project, await plan_from_store(project, store, request))
    scratch = tmp_path / "runs"
    scratch.mkdir()
    runs = await json_runs(
        project, plan_pages(project, store, request, page_size=1), scratch, show_all=True
    )
    assert len(runs) > 4
    monkeypatch.setattr("touchflow.plan.preview.MERGE_FAN_IN", 2)
    out = io.StringIO()
    write_runs(runs, out)
    assert out.getvalue() == to_json(items) + "\n"
    assert len(list(scratch.iterdir())) == 2  # what was merged into longer runs is gone


async def test_preview_json_from_two_worker_processes_is_the_same_document(
    sample: tuple[Project, SqliteStore], tmp_path: Path
) -> None:
    project, store = sample
    request = PlanRequest(window=YEAR)
    alone, together = io.StringIO(), io.StringIO()
    await write_json(project, store, request, alone, show_all=True, workers=1)
    await write_json(project, store, request, together, show_all=True, workers=2)
    assert together.getvalue() == alone.getvalue()
    assert len(json.loads(alone.getvalue())) > 50
    runs = await json_runs_in_processes(project, store, request, tmp_path, show_all=True, workers=2)
    assert runs is not None
    assert {run.parent for run in runs} == {tmp_path}
    assert len(await store.id_ranges(2)) == 2
    one_customer = PlanRequest(window=YEAR, customer="c-001")
    assert (
        await json_runs_in_processes(project, store, one_customer, tmp_path, show_all=True) is None
    )


class _Broken(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("the pipe is gone")


async def test_preview_json_leaves_no_runs_behind_on_success_or_failure(
    sample: tuple[Project, SqliteStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, store = sample
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    request = PlanRequest(window=YEAR)
    for workers in (1, 2):
        await write_json(project, store, request, io.StringIO(), show_all=True, workers=workers)
        with pytest.raises(OSError, match="the pipe is gone"):
            await write_json(project, store, request, _Broken(), show_all=True, workers=workers)
    assert list(scratch.iterdir()) == []


async def test_id_ranges_split_the_customers_into_parts_of_about_equal_size(
    store: SqliteStore,
) -> None:
    assert await store.id_ranges(1) == [("", None)]
    assert await store.id_ranges(2) == [("", "c1"), ("c1", None)]  # 2 and 3 customers
    five = [("", "c0"), ("c0", "c1"), ("c1", "c2"), ("c2", "c3"), ("c3", None)]
    assert await store.id_ranges(5) == five
    assert await store.id_ranges(9) == five  # no empty ranges
    pages = [page async for page in store.facts_pages(ids=("c1", "c3"))]
    assert [[f.customer.id for f in page] for page in pages] == [["c2", "c3"]]


def _range_in_worker(ids: IdRange) -> tuple[IdRange, int]:
    return ids, os.getpid()


def _range_slowly(ids: IdRange) -> tuple[IdRange, int]:
    time.sleep(60)
    return ids, os.getpid()


def _range_failing(ids: IdRange) -> tuple[IdRange, int]:
    raise ValueError(f"range {ids} failed")


async def test_when_this_process_fails_its_range_the_workers_are_stopped_at_once(
    store: SqliteStore,
) -> None:
    async def here(ids: IdRange) -> tuple[IdRange, int]:
        await asyncio.sleep(0.5)  # the workers have started
        raise ValueError("rendering failed here")

    started = time.monotonic()
    with pytest.raises(ValueError, match="rendering failed here"):
        await in_processes(store, _range_slowly, workers=2, here=here)
    assert time.monotonic() - started < 30  # not after the workers' whole 60 s


async def test_when_a_worker_fails_this_process_stops_its_own_range_before_the_error(
    store: SqliteStore,
) -> None:
    stopped = asyncio.Event()

    async def here(ids: IdRange) -> tuple[IdRange, int]:
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()
        return ids, os.getpid()

    with pytest.raises(ValueError, match="failed"):
        await in_processes(store, _range_failing, workers=2, here=here)
    assert stopped.is_set()  # ended before the caller removes what it writes into


async def test_work_given_here_takes_the_first_range_in_this_process(store: SqliteStore) -> None:
    async def here(ids: IdRange) -> tuple[IdRange, int]:
        return ids, os.getpid()

    parts = await in_processes(store, _range_in_worker, workers=3, here=here)
    assert parts is not None
    assert [ids for ids, _ in parts] == await store.id_ranges(3)
    pids = [pid for _, pid in parts]
    assert pids[0] == os.getpid()  # this process worked instead of waiting
    assert len(set(pids)) == 3  # and started two workers, not three


async def test_preview_json_of_an_empty_window_is_an_empty_array(
    sample: tuple[Project, SqliteStore],
) -> None:
    project, store = sample
    out = io.StringIO()
    empty = PlanRequest(window=Window(start=NOW, end=NOW), rule="birthday-card")
    await write_json(project, store, empty, out, show_all=True)
    assert out.getvalue() == "[]\n"


# --- caps count what was sent, in the preview as in the daemon -------------------------

CAPPED_CONFIG = """\
name: Test Shop
timezone: UTC
email: {from: "Test Shop <shop@example.com>", unsubscribe: "mailto:u@example.com"}
policies:
  marketing: {send_window: none, caps: true, require_consent: false}
caps:
  - {category: marketing, max: 1, per: 7 days}
"""
DAILY_PROMO = """\
- id: promo
  category: marketing
  trigger: {cron: "0 10 * * *"}
  action: {template: promo}
"""


@pytest.mark.parametrize("one_customer", [False, True], ids=["everyone", "--customer"])
async def test_the_preview_holds_as_capped_what_a_recorded_send_fills_the_cap_with(
    tmp_path: Path, one_customer: bool
) -> None:
    root = write_project(tmp_path, customers=[], rules=DAILY_PROMO, config=CAPPED_CONFIG)
    (root / "message_templates" / "promo").mkdir(parents=True)
    (root / "message_templates" / "promo" / "subject.txt").write_text("Sale")
    (root / "message_templates" / "promo" / "body.txt").write_text("Sale!")
    project = load_project_checked(root)
    window = Window(start=NOW, end=NOW + timedelta(days=2))
    async with await SqliteStore.open(project.config.store_file()) as store:
        await store.upsert_customers([Customer(id="c1", email="c1@example.com")])
        # Yesterday's promo went out: the cap of one per 7 days is full until next week.
        yesterday = Window(start=NOW - timedelta(days=1, hours=1), end=NOW)
        daemon_then = NOW - timedelta(days=1, hours=1)
        await plan_into_outbox(project, store, window=yesterday, now=daemon_then)
        (row,) = await store.claim_due(
            owner="t", now=NOW - timedelta(hours=20), ttl=timedelta(minutes=5), limit=5
        )
        sent = dataclasses.replace(row, state=OutboxState.SENT, sent_at=row.due_at)
        assert await store.finish_claim(sent, owner="t", now=row.due_at, attempted=True)

        request = PlanRequest(window=window, customer="c1" if one_customer else None)
        previewed = await plan_from_store(project, store, request)
        run = await plan_into_outbox(project, store, window=window, now=NOW)
        rows = await store.outbox_by_keys([tp.key for tp in previewed])
    assert [(tp.status.value, tp.reason.value if tp.reason else None) for tp in previewed] == [
        ("held", "capped"),
        ("held", "capped"),
    ]
    assert run.inserted == 2  # the daemon planned them too, and holds them the same way
    assert {(r.state, r.reason) for r in rows.values()} == {(OutboxState.CANCELLED, "capped")}
