"""A full plan shared out between daemons of one PostgreSQL store: the one that plans
starts it, the other takes ranges of it, and the outbox is what one process writes.

Two ``DaemonPlanning`` in one test process, each with its own connections to the store
(its own planning-lock session), as two daemons have."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import sys
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg_support import fresh_store_url

from touchflow.clock import Clock
from touchflow.models import Customer, Window
from touchflow.project import Project, load_project_checked
from touchflow.send.daemon_planning import DaemonPlanning
from touchflow.send.plan_lanes import LEASE, RUN_META, Part, RunSpec
from touchflow.send.plan_share import plan_everyone, share_out, take_part
from touchflow.send.replan import PlanState
from touchflow.store import Store, open_store
from touchflow.store.postgres.lock import AdvisoryLock
from touchflow.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import gen

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CUSTOMERS = 1200
PAGE = 100  # ranges of 200 customers: six


def planning_alone(project: Project) -> Project:
    """Each daemon plans in its own process (``plan_workers: 1``), 30 days ahead."""
    daemon = dataclasses.replace(project.config.daemon, plan_workers=1, horizon=timedelta(days=30))
    return dataclasses.replace(project, config=dataclasses.replace(project.config, daemon=daemon))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = gen.make_project(tmp_path_factory.mktemp("plan-share") / "project")
    asyncio.run(gen.fill_store(root, CUSTOMERS, seed=5, now=NOW))
    return root


async def test_two_daemons_share_a_full_plan_and_write_what_one_process_writes(
    generated: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = planning_alone(load_project_checked(shutil.copytree(generated, tmp_path / "p")))
    window = Window(start=NOW, end=NOW + timedelta(days=30))
    async with await SqliteStore.open(project.config.store_file()) as lite:
        facts = await lite.load_facts()
        await plan_everyone(project, lite, window=window, now=NOW, clock=lambda: NOW)
        expected = {k: (r.state, r.due_at) for k, r in (await lite.outbox_by_keys(
            [r.key for r in await lite.list_outbox(limit=100_000)])).items()}  # fmt: skip
    with fresh_store_url() as url:
        async with await open_store(url) as one, await open_store(url) as two:
            await one.upsert_customers([f.customer for f in facts], now=NOW)
            await one.add_events([e for f in facts for e in f.events])
            await one.drop_changes((await one.pending_changes(limit=1))[0])
            planner = daemon(project, one, "one")
            helper = daemon(project, two, "two")
            locks = [instance_lock(url, "one"), instance_lock(url, "two")]  # both alive
            with caplog.at_level(logging.INFO, logger="touchflow"):
                leading = asyncio.create_task(planner.ahead())
                helped = await join_when_shared(helper, two)
                await leading
            for lock in locks:
                lock.release()
            rows = await one.outbox_by_keys(list(expected))
            assert await one.get_meta(RUN_META) == ""
            assert await one.replanned_after([f.customer.id for f in facts], 0) == set()
    # The daemons' clocks run on from NOW: what falls due at the window's very start differs.
    expected = {k: v for k, v in expected.items() if v[1] > NOW + timedelta(minutes=1)}
    assert 0 < helped < CUSTOMERS
    assert not [m for m in caplog.messages if "went to another planner" in m]
    (line,) = [m for m in caplog.messages if m.startswith("planned ") and " to " in m]
    assert f"other daemons planned about {helped} more customers" in line
    found = {k: (r.state, r.due_at) for k, r in rows.items()}
    assert {k: v for k, v in found.items() if v[1] > NOW + timedelta(minutes=1)} == expected
    assert len(rows) > 1000


def instance_lock(url: str, instance: str) -> AdvisoryLock:
    """What a running daemon holds: the others see by it that it lives."""
    lock = AdvisoryLock(url, "touchflow run", instance=instance)
    assert lock.try_acquire() is None
    return lock


def daemon(project: Project, store: Store, me: str) -> DaemonPlanning:
    async def plans() -> bool:
        return me == "one"

    return DaemonPlanning(project=lambda: project, store=store, clock=Clock.starting_at(NOW),
                          planner=plans, me=me, page_size=PAGE)  # fmt: skip


async def join_when_shared(helper: DaemonPlanning, store: Store) -> int:
    """What the helper's daemon does on hearing of the plan: take part, once it is out."""
    async with asyncio.timeout(60):
        while not await store.get_meta(RUN_META):
            await asyncio.sleep(0.01)
    return await helper.help()


async def test_a_daemon_whose_rules_differ_leaves_the_plan_to_the_others_and_says_so(
    generated: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    planner_files = shutil.copytree(generated, tmp_path / "planner")
    other_files = shutil.copytree(generated, tmp_path / "other")
    with open(other_files / "touchflow.yaml", "a", encoding="utf-8") as config:
        config.write("\nhttp:\n  port: 8799\n")  # a section of the machine: plans alike
    project = planning_alone(load_project_checked(planner_files))
    alike = planning_alone(load_project_checked(other_files))
    assert alike.plan_digest == project.plan_digest != alike.digest
    rule = next((other_files / "rules").glob("*.yaml"))
    rule.write_text(rule.read_text(encoding="utf-8") + "\n# another commit\n", encoding="utf-8")
    other = planning_alone(load_project_checked(other_files))
    with fresh_store_url() as url:
        async with await open_store(url) as one, await open_store(url) as two:
            await one.upsert_customers([Customer(id=f"c{i}") for i in range(3)], now=NOW)
            helper = DaemonPlanning(project=lambda: other, store=two, clock=Clock.starting_at(NOW),
                                    me="two", page_size=PAGE)  # fmt: skip
            window = Window(start=NOW, end=NOW + timedelta(days=2))
            await share_out(one, spec := RunSpec.new(window=window, now=NOW,
                                                     digest=project.plan_digest))  # fmt: skip
            await one.set_meta(RUN_META, spec.text())
            with caplog.at_level(logging.WARNING, logger="touchflow"):
                assert await helper.help() == 0
                assert await helper.help() == 0
    told = [m for m in caplog.messages if "follows other project files" in m]
    assert len(told) == 1  # once a plan, not at every watch tick


async def test_no_worker_process_starts_while_every_range_is_being_planned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The planner looks for a free range every half second while the others plan theirs:
    that must not start worker processes each time."""
    root = gen.make_project(tmp_path / "p")
    loaded = load_project_checked(root)
    daemon = dataclasses.replace(loaded.config.daemon, plan_workers=2)
    project = dataclasses.replace(loaded, config=dataclasses.replace(loaded.config, daemon=daemon))
    window = Window(start=NOW, end=NOW + timedelta(days=2))
    spec = RunSpec.new(window=window, now=NOW, digest=project.plan_digest)
    async with await SqliteStore.open(project.config.store_file()) as store:
        await store.upsert_customers([Customer(id="c1")])
        await share_out(store, spec)
        assert await store.take_plan_range(spec.id, me="other", now=NOW, until=NOW + LEASE)
        state = PlanState(window=window, now=NOW, sent_since=NOW, page_size=PAGE)
        part = Part(project=project, store=store, spec=spec, me="me", turn=nullcontext(),
                    state=state, clock=lambda: NOW)  # fmt: skip
        with caplog.at_level(logging.INFO, logger="touchflow"):
            await take_part(part, 2)
    assert not [m for m in caplog.messages if "worker processes" in m]
    assert state.total.customers == 0
