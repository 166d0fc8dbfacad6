"""The daemon's full plan in worker processes: the same outbox as one process writes, and
never an older plan over a newer one.

A worker reads its page's facts outside the planning lock; the daemon writes the page
later, under it. Whoever changed in between (and was re-planned by ``changes`` at
once, as the watch timer does) or left the store must be left out of that page. The
tests force that moment: the first page is written only after the change (a hook on
the store's ``replanned_after``, which the writer asks under the lock just before
writing).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import shutil
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from daemon_support import DaemonProcess, poll, touchflow, write_project

from touchflow.clock import Clock
from touchflow.models import Customer, Event, Window
from touchflow.project import Project, load_project_checked
from touchflow.send.daemon_planning import DaemonPlanning
from touchflow.send.plan_share import plan_everyone
from touchflow.send.replan import PlanRun, plan_into_outbox
from touchflow.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import gen

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
IDS = [f"c{i}" for i in range(8)]


def with_workers(project: Project, workers: int) -> Project:
    daemon = dataclasses.replace(project.config.daemon, plan_workers=workers)
    return dataclasses.replace(project, config=dataclasses.replace(project.config, daemon=daemon))


async def plan_all(project: Project, store: SqliteStore, *, window: Window) -> PlanRun:
    """A full plan shared out among this process's lanes (``daemon.plan_workers``)."""
    return await plan_everyone(
        project, store, window=window, now=NOW, clock=lambda: NOW, page_size=200
    )


def outbox(path: Path) -> dict[str, tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT key, state, due_at, expires_at, next_attempt_at, reason, last_error,"
            " to_addr, category, counts_for_caps FROM outbox"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = gen.make_project(tmp_path_factory.mktemp("plan-workers") / "project")
    asyncio.run(gen.fill_store(root, 1200, seed=11, now=NOW))
    return root


async def test_workers_write_the_outbox_one_process_writes(
    generated: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two workers, pages of 100 customers: every row as the daemon alone writes it, the
    same totals, and a second plan with workers changes nothing."""
    window = Window(start=NOW, end=NOW + timedelta(days=30))
    found = {}
    for workers in (1, 2):
        copy = shutil.copytree(generated, tmp_path / f"workers-{workers}")
        project = with_workers(load_project_checked(copy), workers)
        async with await SqliteStore.open(project.config.store_file()) as store:
            with caplog.at_level(logging.INFO, logger="touchflow"):
                run = await plan_all(project, store, window=window)
                again = await plan_all(project, store, window=window)
            found[workers] = (run, outbox(store.path))
        assert (again.customers, again.inserted, again.updated) == (1200, 0, 0)
    assert sum("planning in 2 worker processes" in m for m in caplog.messages) == 2
    (one, rows_one), (two, rows_two) = found[1], found[2]
    assert (two.customers, two.touchpoints, two.inserted) == (1200, one.touchpoints, one.inserted)
    assert one.inserted > 1000
    assert rows_two == rows_one


async def plan_thirty_days(
    root: Path, workers: int, kind: type[SqliteStore] = SqliteStore
) -> dict[str, tuple[object, ...]]:
    project = with_workers(load_project_checked(root), workers)
    window = Window(start=NOW, end=NOW + timedelta(days=30))
    async with await kind.open(project.config.store_file()) as store:
        run = await plan_all(project, store, window=window)
        assert run.customers == 1200
        return outbox(store.path)


async def test_a_range_whose_worker_loaded_other_files_is_planned_here(
    generated: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The files changed after the daemon loaded them (a reload is coming): the workers
    refuse, and the daemon plans their ranges itself, with the project it runs."""
    expected = await plan_thirty_days(shutil.copytree(generated, tmp_path / "one"), 1)
    root = shutil.copytree(generated, tmp_path / "changed")
    project = with_workers(load_project_checked(root), 2)
    (root / "touchflow.yaml").write_text(
        (root / "touchflow.yaml").read_text(encoding="utf-8") + "# changed\n", encoding="utf-8"
    )
    window = Window(start=NOW, end=NOW + timedelta(days=30))
    with caplog.at_level(logging.INFO, logger="touchflow"):
        async with await SqliteStore.open(project.config.store_file()) as store:
            await plan_all(project, store, window=window)
            assert outbox(store.path) == expected
    handed_back = [m for m in caplog.messages if "planning its range here" in m]
    assert len(handed_back) == 2
    assert all("changed since the daemon loaded them" in m for m in handed_back)


class WorkersKilledBeforeTheFirstWrite(SqliteStore):
    """A store whose first check before a write kills every worker (SIGKILL)."""

    caplog: pytest.LogCaptureFixture
    killed: ClassVar[list[int]] = []

    async def replanned_after(self, customer_ids: Collection[str], seq: int) -> set[str]:
        if not self.killed:
            (line,) = [m for m in self.caplog.messages if "worker processes (pids" in m]
            found = re.search(r"pids ([\d ]+)\)", line)
            assert found is not None
            self.killed.extend(int(pid) for pid in found.group(1).split())
            for pid in self.killed:
                os.kill(pid, signal.SIGKILL)
        return await super().replanned_after(customer_ids, seq)


async def test_the_rest_of_a_killed_workers_range_is_planned_here(
    generated: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Pages a worker handed over are written; where it stopped, the daemon goes on."""
    expected = await plan_thirty_days(shutil.copytree(generated, tmp_path / "one"), 1)
    WorkersKilledBeforeTheFirstWrite.caplog = caplog
    kind = WorkersKilledBeforeTheFirstWrite
    with caplog.at_level(logging.INFO, logger="touchflow"):
        found = await plan_thirty_days(shutil.copytree(generated, tmp_path / "two"), 2, kind)
    assert len(kind.killed) == 2
    assert found == expected
    handed_back = [m for m in caplog.messages if "planning its range here" in m]
    assert len(handed_back) == 2, caplog.messages


class FailingBeforeTheFirstWrite(SqliteStore):
    """A store whose check fails (as a store that went away would) at the first write."""

    async def replanned_after(self, customer_ids: Collection[str], seq: int) -> set[str]:
        raise RuntimeError("the store went away")


async def test_a_plan_that_fails_while_workers_run_leaves_no_process_behind(
    generated: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = shutil.copytree(generated, tmp_path / "failing")
    with caplog.at_level(logging.INFO, logger="touchflow"), pytest.raises(RuntimeError):
        await plan_thirty_days(root, 2, FailingBeforeTheFirstWrite)
    (line,) = [m for m in caplog.messages if "worker processes (pids" in m]
    found = re.search(r"pids ([\d ]+)\)", line)
    assert found is not None
    pids = [int(pid) for pid in found.group(1).split()]
    assert not any(map(running, pids))  # ended before the plan's exception came out
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


# --- the moment between a worker's read and the daemon's write ---------------------


@pytest.fixture(params=["two workers", "this process"])
def lanes(request: pytest.FixtureRequest) -> int:
    return 2 if request.param == "two workers" else 1


@asynccontextmanager
async def planning(
    tmp_path: Path, lanes: int, kind: type[SqliteStore]
) -> AsyncIterator[tuple[Project, SqliteStore]]:
    """Eight customers, each with an appointment in 2.5 days (a reminder 24 hours before,
    inside the 2-day horizon), planned by two workers (or this process alone)."""
    root = write_project(tmp_path, customers=[])
    project = with_workers(load_project_checked(root), lanes)
    async with await kind.open(project.config.store_file()) as store:
        await store.upsert_customers([Customer(id=i, email=f"{i}@example.com") for i in IDS])
        await store.add_events([booked(i) for i in IDS])
        await store.drop_changes((await store.pending_changes(limit=100))[0])
        yield project, store


def booked(customer: str) -> Event:
    data = {"appointment_id": f"a-{customer}", "starts_at": (NOW + timedelta(hours=60)).isoformat()}
    return Event(
        id=f"b-{customer}", type="appointment_booked", customer_id=customer, at=NOW, data=data
    )


def cancelled(customer: str) -> Event:
    data = {"appointment_id": f"a-{customer}"}
    at = NOW + timedelta(minutes=1)
    return Event(
        id=f"x-{customer}", type="appointment_cancelled", customer_id=customer, at=at, data=data
    )


class ChangedBeforeTheFirstWrite(SqliteStore):
    """Every appointment is cancelled after the workers read their pages and before the
    first page is written, and the watch timer's re-plan of changes runs right then."""

    plans: DaemonPlanning
    check = True  # False: pretend nobody changed (what writing without the check did)
    changed = False

    async def replanned_after(self, customer_ids: Collection[str], seq: int) -> set[str]:
        if not self.changed:
            self.changed = True
            await self.add_events([cancelled(i) for i in IDS])
            await self.plans._changes()  # what changes() does, inside the turn the writer holds
        return await super().replanned_after(customer_ids, seq) if self.check else set()


def reminders(store: SqliteStore) -> dict[str, str]:
    with sqlite3.connect(store.path) as db:
        rows = db.execute("SELECT customer_id, state FROM outbox WHERE rule_id = 'reminder'")
        return dict(rows.fetchall())


def daemon_planning(project: Project, store: SqliteStore) -> DaemonPlanning:
    return DaemonPlanning(project=lambda: project, store=store, clock=Clock.starting_at(NOW))


async def test_a_customer_replanned_after_the_page_was_read_keeps_the_newer_plan(
    tmp_path: Path, lanes: int
) -> None:
    async with planning(tmp_path, lanes, ChangedBeforeTheFirstWrite) as (project, store):
        assert isinstance(store, ChangedBeforeTheFirstWrite)
        store.plans = daemon_planning(project, store)
        await store.plans.ahead()
        assert store.changed
        assert reminders(store) == dict.fromkeys(IDS, "cancelled")
        assert (await store.pending_changes(limit=100))[1] == set()
        assert await store.replanned_after(IDS, 0) == set()  # kept for the run, then dropped


async def test_without_the_check_the_older_plan_would_win(tmp_path: Path, lanes: int) -> None:
    """The test above can fail: leave nobody out, and the cancelled reminders come back."""
    async with planning(tmp_path, lanes, ChangedBeforeTheFirstWrite) as (project, store):
        assert isinstance(store, ChangedBeforeTheFirstWrite)
        store.plans = daemon_planning(project, store)
        store.check = False
        await store.plans.ahead()
        assert store.changed
        assert "pending" in reminders(store).values()


class GoneBeforeTheFirstWrite(SqliteStore):
    """Two customers leave the store (one deleted, one erased) after the page was read
    and before it is written."""

    gone = False

    async def replanned_after(self, customer_ids: Collection[str], seq: int) -> set[str]:
        if not self.gone:
            self.gone = True
            await self.delete_customers(["c0"])
            assert await self.erase_customer("c5") is not None
        return await super().replanned_after(customer_ids, seq)


async def test_a_customer_deleted_or_erased_after_the_page_was_read_gets_no_rows(
    tmp_path: Path, lanes: int
) -> None:
    async with planning(tmp_path, lanes, GoneBeforeTheFirstWrite) as (project, store):
        assert isinstance(store, GoneBeforeTheFirstWrite)
        await daemon_planning(project, store).ahead()
        assert store.gone
        assert reminders(store) == {i: "pending" for i in IDS if i not in ("c0", "c5")}
        with sqlite3.connect(store.path) as db:
            left = db.execute("SELECT count(*) FROM outbox WHERE customer_id IN ('c0', 'c5')")
            assert left.fetchone() == (0,)


# --- stopping ----------------------------------------------------------------------


def thirty_days_in_workers(source: Path, dest: Path) -> Path:
    copy = shutil.copytree(source, dest)
    config = copy / "touchflow.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text + "\ndaemon:\n  horizon: 30 days\n  plan_workers: 2\n")
    return copy


def running(pid: int) -> bool:
    """Whether the process is there and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def far_from_the_edges(path: Path) -> dict[str, tuple[object, ...]]:
    """The outbox but rows due within minutes of either end of the window (two runs'
    windows start seconds apart)."""
    edges = (NOW, NOW + timedelta(days=30))
    return {
        key: row
        for key, row in outbox(path).items()
        if all(abs(datetime.fromisoformat(str(row[1])) - edge) > timedelta(minutes=10)
               for edge in edges)
    }  # fmt: skip


@pytest.mark.parametrize(
    "when", ["while the workers start", "once a page is written"], ids=["starting", "writing"]
)
def test_sigterm_during_a_full_plan_in_workers_stops_every_process(
    generated: Path, tmp_path: Path, when: str
) -> None:
    """The daemon exits as usual, its workers with it; what was written is whole, and the
    next run completes the plan as a run that was never stopped writes it."""
    stopped = thirty_days_in_workers(generated, tmp_path / "stopped")
    daemon = DaemonProcess(stopped, "--now", NOW.isoformat(), "--log-level", "info").start()
    line = daemon.wait_for("planning in 2 worker processes")
    found = re.search(r"pids ([\d ]+)\)", line)
    assert found is not None, line
    pids = [int(pid) for pid in found.group(1).split()]
    if when == "once a page is written":
        daemon.wait_for(" new → ")
    assert daemon.stop(timeout=60) == 0, daemon.log()
    daemon.wait_for("INFO    stopped")
    assert poll(lambda: not any(map(running, pids)), timeout=10), pids
    store = stopped / ".touchflow" / "store.sqlite3"
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    touchflow("run", "--once", "--now", NOW.isoformat(), cwd=stopped)
    clean = thirty_days_in_workers(generated, tmp_path / "clean")
    touchflow("run", "--once", "--now", NOW.isoformat(), cwd=clean)
    expected = far_from_the_edges(clean / ".touchflow" / "store.sqlite3")
    assert len(expected) > 1000
    assert far_from_the_edges(store) == expected


async def test_workers_plan_a_postgresql_store_as_one_process_plans_the_same_facts(
    generated: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The workers open the store's location themselves: a PostgreSQL URL works as a file."""
    from pg_support import fresh_store_url

    from touchflow.store import open_store

    window = Window(start=NOW, end=NOW + timedelta(days=30))
    copy = shutil.copytree(generated, tmp_path / "sqlite")
    alone = with_workers(load_project_checked(copy), 1)
    async with await SqliteStore.open(alone.config.store_file()) as lite:
        facts = await lite.load_facts()
        await plan_into_outbox(alone, lite, window=window, now=NOW, page_size=200)
        expected = {key: row[:2] for key, row in outbox(lite.path).items()}
    with fresh_store_url() as url:
        async with await open_store(url) as pg:
            await pg.upsert_customers([f.customer for f in facts], now=NOW)
            await pg.add_events([e for f in facts for e in f.events])
            with caplog.at_level(logging.INFO, logger="touchflow"):
                run = await plan_everyone(with_workers(alone, 2), pg, window=window, now=NOW,
                                          clock=lambda: NOW, page_size=200)  # fmt: skip
            rows = await pg.outbox_by_keys(list(expected))
    assert any("planning in 2 worker processes" in m for m in caplog.messages)
    assert not any("planning here" in m for m in caplog.messages)
    assert run.customers == len(facts) == 1200
    assert {key: (r.state.value, r.due_at) for key, r in rows.items()} == {
        key: (state, datetime.fromisoformat(str(due))) for key, (state, due) in expected.items()
    }
