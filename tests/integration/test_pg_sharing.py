"""What lets several daemons share one PostgreSQL store: the daemon lock every daemon
shares (and a command holds alone), the instance lock that says a claim's owner is alive,
the lead (the one daemon that plans), the planning turn, the notifications (LISTEN/NOTIFY)
and schema version 2 that brings them, upgraded in place from version 1."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from daemon_support import poll
from pg_support import fresh_store_url
from store_support import NOW, minutes, outbox_row, states
from support import customer

from touchflow.errors import StoreError
from touchflow.models import OutboxState
from touchflow.store import migrate_store, named_sql, open_store
from touchflow.store.postgres import PostgresStore
from touchflow.store.postgres.lock import AdvisoryLock
from touchflow.store.postgres.migrate import SCHEMA_VERSION

DAEMON = "touchflow run"
HOUR = timedelta(hours=1)


@pytest.fixture
async def store(url: str) -> AsyncIterator[PostgresStore]:
    async with await PostgresStore.open(url) as opened:
        yield opened


def daemon_lock(url: str, instance: str) -> AdvisoryLock:
    lock = AdvisoryLock(url, DAEMON, instance=instance)
    assert lock.try_acquire() is None
    return lock


async def first_wake_up(store: PostgresStore) -> str:
    async for kind in store.wake_ups():
        return kind
    raise AssertionError("the notifications ended")


async def listening(store: PostgresStore) -> asyncio.Task[str]:
    task = asyncio.create_task(first_wake_up(store))
    await asyncio.sleep(0.3)  # LISTEN is in place
    return task


# --- the daemon lock, the instance lock and the lead ----------------------------------


def test_daemons_share_the_store_and_a_command_waits_for_none_to_hold_it(url: str) -> None:
    one, two = daemon_lock(url, "one"), daemon_lock(url, "two")
    command = AdvisoryLock(url, "touchflow customers delete")
    _, holder = command.try_acquire() or ("", "")
    assert holder == DAEMON
    one.release()
    two.release()  # the server lets go as each session ends, a moment later
    assert poll(lambda: command.try_acquire() is None, timeout=5)
    three = AdvisoryLock(url, DAEMON, instance="three")
    assert three.try_acquire() is not None  # the command has it for now
    command.release()


def test_one_daemon_leads_and_another_takes_the_lead_when_it_stops(url: str) -> None:
    one, two = daemon_lock(url, "one"), daemon_lock(url, "two")
    assert (one.lead(), two.lead()) == (True, False)
    assert (one.lead(), two.lead()) == (True, False)  # kept, not taken twice
    one.release()  # the server lets go of its locks as the session ends, a moment later
    assert poll(two.lead, timeout=5)
    two.release()


async def test_the_store_names_the_daemons_sharing_it_and_the_one_that_plans(
    url: str, store: PostgresStore
) -> None:
    assert await store.daemon_sessions() == []
    one, two = daemon_lock(url, "one"), daemon_lock(url, "two")
    command = AdvisoryLock(url, "touchflow customers delete")
    assert command.try_acquire() is not None  # held by the daemons: not one of them
    assert (one.lead(), two.lead()) == (True, False)
    seen = await store.daemon_sessions()
    assert [(s.name.startswith(f"{DAEMON} pid "), s.leads) for s in seen] == [
        (True, True),
        (True, False),
    ]
    assert seen[0].since <= seen[1].since
    one.release()
    two.release()
    assert await poll_async(store.daemon_sessions, lambda seen: seen == [])


async def poll_async(
    read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], timeout: float = 5
) -> bool:
    deadline = time.monotonic() + timeout
    while not done(await read()):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def test_a_lost_connection_is_made_again_with_the_locks_taken_again(url: str) -> None:
    one = daemon_lock(url, "one")
    assert one.lead()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE 'touchflow run pid %'"
        )
    assert one.lead() is True  # a new connection, the lead taken again
    command = AdvisoryLock(url, "touchflow customers delete")
    assert command.try_acquire() is not None  # the daemon lock too
    one.release()


async def test_claims_of_a_live_daemon_stay_and_those_of_a_gone_one_are_taken_back(
    url: str, store: PostgresStore
) -> None:
    live, gone = daemon_lock(url, "live"), daemon_lock(url, "gone")
    await store.write_plan(
        [outbox_row("a", due=minutes(-10)), outbox_row("b", due=minutes(-5))], [], now=NOW
    )
    await store.claim_due(owner="live", now=NOW, ttl=HOUR, limit=1)
    await store.claim_due(owner="gone", now=NOW, ttl=HOUR, limit=1)
    assert await store.reclaim(now=minutes(1), owners_gone=True) == []  # both alive
    gone.release()  # as when its process is killed: the server ends the session
    for _ in range(50):  # which it does a moment later
        if taken := await store.reclaim(now=minutes(1), owners_gone=True):
            break
        await asyncio.sleep(0.1)
    assert [r.claim_owner for r in taken] == ["gone"]
    assert await states(store) == {"a": OutboxState.CLAIMED, "b": OutboxState.RETRY}
    live.release()


async def test_a_plan_range_of_a_gone_daemon_is_taken_from_where_it_got_to(
    url: str, store: PostgresStore
) -> None:
    live, gone = daemon_lock(url, "live"), daemon_lock(url, "gone")
    await store.start_plan_run("run", [("", "m"), ("m", None)])
    first = await store.take_plan_range("run", me="live", now=NOW, until=NOW + HOUR)
    second = await store.take_plan_range("run", me="gone", now=NOW, until=NOW + HOUR)
    assert first is not None and second is not None
    assert await store.advance_plan_range(second, me="gone", cursor="p", done=False,
                                          until=NOW + HOUR)  # fmt: skip
    assert await store.take_plan_range("run", me="new", now=NOW, until=NOW + HOUR,
                                       owners_gone=True) is None  # both alive  # fmt: skip
    gone.release()
    for _ in range(50):
        taken = await store.take_plan_range("run", me="new", now=NOW, until=NOW + HOUR,
                                            owners_gone=True)  # fmt: skip
        if taken is not None:
            break
        await asyncio.sleep(0.1)
    assert taken is not None and taken.rest == ("p", None)
    assert not await store.advance_plan_range(second, me="gone", cursor="q", done=True,
                                              until=NOW + HOUR)  # fmt: skip
    live.release()


async def test_a_plan_shared_out_is_heard_by_every_daemon_of_the_store(
    url: str, store: PostgresStore
) -> None:
    async with await PostgresStore.open(url) as writer:
        heard = await listening(store)
        await writer.start_plan_run("run", [("", None)])
        assert await asyncio.wait_for(heard, 1.0) == "plan"


# --- the planning turn ----------------------------------------------------------------


async def test_one_process_plans_at_a_time(url: str, store: PostgresStore) -> None:
    async with await PostgresStore.open(url) as other:
        async with store.planning_turn():
            waiting = asyncio.create_task(_turn(other))
            await asyncio.sleep(0.3)
            assert not waiting.done()
        await asyncio.wait_for(waiting, 5)
        async with store.planning_turn():  # given back
            pass


async def test_pages_of_a_shared_plan_are_written_together_but_never_beside_a_replan(
    url: str, store: PostgresStore
) -> None:
    async with await PostgresStore.open(url) as other:
        async with store.planning_turn(shared=True):
            await asyncio.wait_for(_turn(other, shared=True), 5)  # another daemon's page
            replan = asyncio.create_task(_turn(other))
            await asyncio.sleep(0.3)
            assert not replan.done()
        await asyncio.wait_for(replan, 5)
        async with other.planning_turn():
            page = asyncio.create_task(_turn(store, shared=True))
            await asyncio.sleep(0.3)
            assert not page.done()
        await asyncio.wait_for(page, 5)


async def _turn(store: PostgresStore, *, shared: bool = False) -> None:
    async with store.planning_turn(shared=shared):
        pass


# --- notifications ----------------------------------------------------------------------


async def test_a_change_and_a_written_plan_are_heard_by_every_daemon_of_the_store(
    url: str, store: PostgresStore
) -> None:
    async with await PostgresStore.open(url) as writer:
        heard = await listening(store)
        await writer.upsert_customers([customer(id="c1")])
        assert await asyncio.wait_for(heard, 1.0) == "changes"
        heard = await listening(store)
        await writer.write_plan([outbox_row("k1")], [], now=NOW)
        assert await asyncio.wait_for(heard, 1.0) == "ready"


async def test_the_changes_of_another_store_in_the_database_are_not_heard(
    store: PostgresStore,
) -> None:
    heard = await listening(store)
    with fresh_store_url() as elsewhere:
        async with await open_store(elsewhere) as other:
            await other.upsert_customers([customer(id="c1")])
            await asyncio.sleep(0.5)
    assert not heard.done()
    heard.cancel()


# --- schema version 2 -------------------------------------------------------------------


async def test_a_version_1_store_is_upgraded_in_place_keeping_its_rows(url: str) -> None:
    version_1 = named_sql.read("touchflow.store.postgres", "schema.sql")
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(version_1)  # type: ignore[arg-type]  # a whole file, as migrate runs it
        db.execute(
            "INSERT INTO customers (id, email) VALUES ('c1', 'ann@example.com');"
            "INSERT INTO changes (customer_id) VALUES ('c1')"
        )
    assert await migrate_store(url) == (1, SCHEMA_VERSION)
    async with await PostgresStore.open(url) as store:
        assert (await store.get_customer("c1")) is not None
        assert (await store.pending_changes(limit=10))[1] == {"c1"}
        heard = await listening(store)
        await store.upsert_customers([customer(id="c2")])
        assert await asyncio.wait_for(heard, 1.0) == "changes"  # what version 2 brought


async def test_the_planning_turn_outlives_a_cut_of_its_connection(
    url: str, store: PostgresStore
) -> None:
    async with store.planning_turn():
        pass
    with psycopg.connect(url, autocommit=True) as admin:  # a restart, idle_session_timeout
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> "
            "pg_backend_pid() AND application_name = %s",
            (f"touchflow pid {os.getpid()}",),
        )
    await asyncio.sleep(0.2)
    async with store.planning_turn():  # the next page, re-plan or erasure: made anew
        pass
    assert await store.customer_count() == 0  # the pool's connections too


def test_a_daemon_whose_id_shares_a_live_ones_lock_refuses_to_start(url: str) -> None:
    # Two ids of one hash would vouch for each other's claims: the second does not start.
    first = daemon_lock(url, "web1-4242-a3f90c2d")
    with pytest.raises(StoreError, match="start this one again: it draws another id"):
        AdvisoryLock(url, DAEMON, instance="web1-4242-a3f90c2d").try_acquire()
    first.release()
