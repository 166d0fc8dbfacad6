"""The PostgreSQL store as a database: what no other store shares. Its schema (created,
versioned, refused when newer, dropped), two processes opening a new database at once,
typed columns and instants in UTC, byte order of ids, and the changes a reader cannot
miss while a writer is in flight.

What every store promises is tests/contract; this is how the PostgreSQL one keeps it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from urllib.parse import quote

import psycopg
import pytest
from pg_support import fresh_store_url, require_server, server_url
from psycopg_pool import AsyncConnectionPool
from store_support import NOW, TTL, delivered, minutes, outbox_row

from touchflow.channels import Outcome
from touchflow.errors import StoreError
from touchflow.models import Customer, Event, OutboxState, Suppression, SuppressionScope
from touchflow.store import Finish, drop_store, migrate_store, open_store, schema_versions
from touchflow.store.postgres import SCHEMA_VERSION, PostgresStore
from touchflow.store.postgres.connection import fetch
from touchflow.store.postgres.lock import AdvisoryLock
from touchflow.store.postgres.outbox_rows import finish_params
from touchflow.store.postgres.queries import SQL
from touchflow.store.postgres.store import OUTCOME_SESSION


@pytest.fixture
async def store(url: str) -> AsyncIterator[PostgresStore]:
    async with await PostgresStore.open(url) as opened:
        yield opened


def raw(url: str, sql: str) -> list[tuple[object, ...]]:
    """A statement on a connection of its own; its rows (none for a command)."""
    with psycopg.connect(url, autocommit=True) as db:
        cursor = db.execute(sql)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


# --- the schema ---------------------------------------------------------------------


async def test_migrate_creates_the_schema_once_and_then_finds_it(url: str) -> None:
    assert await migrate_store(url) == (0, SCHEMA_VERSION)
    assert await migrate_store(url) == (SCHEMA_VERSION, SCHEMA_VERSION)
    version = str(SCHEMA_VERSION)
    assert raw(url, "SELECT value FROM meta WHERE key = 'schema_version'") == [(version,)]


async def test_the_version_is_read_without_making_or_upgrading_the_schema(url: str) -> None:
    assert await schema_versions(url) == (None, SCHEMA_VERSION)
    assert raw(url, "SELECT to_regclass('meta') IS NULL") == [(True,)]  # nothing made
    async with await open_store(url) as store:
        await store.set_meta("schema_version", "3")
    assert await schema_versions(url) == (3, SCHEMA_VERSION)
    assert raw(url, "SELECT value FROM meta WHERE key = 'schema_version'") == [("3",)]


async def test_a_read_only_open_neither_makes_the_schema_nor_writes(url: str) -> None:
    with pytest.raises(StoreError, match=r"no store yet at .*: nothing to read"):
        await open_store(url, read_only=True)
    assert raw(url, "SELECT to_regclass('meta') IS NULL") == [(True,)]
    async with await open_store(url) as store:
        await store.set_meta("owner", "ops")
    async with await open_store(url, read_only=True) as store:
        assert await store.get_meta("owner") == "ops"
        with pytest.raises(StoreError, match="read-only transaction"):
            await store.set_meta("owner", "someone else")
    assert raw(url, "SELECT value FROM meta WHERE key = 'owner'") == [("ops",)]


async def test_a_schema_newer_than_this_touchflow_is_refused_saying_so(url: str) -> None:
    async with await open_store(url) as store:
        await store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    newer = rf"schema version {SCHEMA_VERSION + 1}, newer than this touchflow knows"
    with pytest.raises(StoreError, match=newer):
        await open_store(url)
    with pytest.raises(StoreError, match=r"newer than this touchflow knows"):
        await migrate_store(url)


def drop_version_7(url: str) -> None:
    """What version 7 added: customers.consent_sms and the phone index."""
    raw(url, "ALTER TABLE customers DROP COLUMN consent_sms")
    raw(url, "DROP INDEX customers_phone")


async def test_a_version_6_store_gets_consent_sms_and_suppressed_numbers(url: str) -> None:
    async with await PostgresStore.open(url) as store:
        await store.upsert_customers([Customer(id="c1", phone="+4915112345678")], now=NOW)
    drop_version_7(url)
    raw(url, "UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    assert await migrate_store(url) == (6, SCHEMA_VERSION) == (6, 7)
    async with await PostgresStore.open(url) as store:
        [before] = await store.load_facts()
        assert before.customer.consent_sms is False  # stored before: no consent to texts
        seq, _ = await store.pending_changes(limit=100)
        await store.drop_changes(seq)
        await store.add_suppression(
            Suppression(email="+4915112345678", scope=SuppressionScope.ALL, reason="STOP")
        )
        _, changed = await store.pending_changes(limit=100)
        assert changed == {"c1"}  # the upgraded trigger finds the number
        [after] = await store.load_facts()
        assert after.suppressed_phone == {SuppressionScope.ALL}
    assert await migrate_store(url) == (SCHEMA_VERSION, SCHEMA_VERSION)  # once


async def test_a_version_3_store_gets_recorded_at_and_its_events_keep_none(url: str) -> None:
    async with await PostgresStore.open(url) as store:
        await store.add_events([Event(id="e1", type="order", customer_id="c1", at=NOW)], now=NOW)
    # A version 3 store: the same schema without events.recorded_at (nor version 5's indexes).
    raw(url, "ALTER TABLE events DROP COLUMN recorded_at")
    raw(url, "DROP INDEX outbox_due, outbox_rule_due, outbox_sent")
    raw(url, "ALTER TABLE outbox DROP COLUMN channel")
    drop_version_7(url)
    raw(url, "UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    assert await migrate_store(url) == (3, SCHEMA_VERSION) == (3, 7)
    later = NOW + timedelta(hours=1)
    async with await PostgresStore.open(url) as store:
        await store.add_events([Event(id="e2", type="order", customer_id="c1", at=NOW)], now=later)
        events, _ = await store.customer_events("c1")
        assert [(e.id, e.recorded_at) for e in events] == [("e2", later), ("e1", None)]
        known = await store.known_since(["c1"])
        assert dict(known["c1"].events) == {"e1": None, "e2": later}
    assert await migrate_store(url) == (SCHEMA_VERSION, SCHEMA_VERSION)  # once


async def test_a_version_4_store_gets_the_console_s_outbox_indexes(url: str) -> None:
    async with await PostgresStore.open(url):
        pass
    index = (
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        " AND tablename = 'outbox'"
        " AND indexname IN ('outbox_due', 'outbox_rule_due', 'outbox_sent') ORDER BY 1"
    )
    raw(url, "DROP INDEX outbox_due, outbox_rule_due, outbox_sent")
    raw(url, "ALTER TABLE outbox DROP COLUMN channel")
    drop_version_7(url)
    raw(url, "UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    assert raw(url, index) == []
    assert await migrate_store(url) == (4, 7)
    assert raw(url, index) == [("outbox_due",), ("outbox_rule_due",), ("outbox_sent",)]


async def test_a_version_5_store_gets_the_outbox_channel_and_its_rows_are_email(
    url: str,
) -> None:
    async with await PostgresStore.open(url) as store:
        await store.write_plan([outbox_row("k1", due=NOW)], [], now=NOW)
    raw(url, "ALTER TABLE outbox DROP COLUMN channel")
    drop_version_7(url)
    raw(url, "UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    assert await migrate_store(url) == (5, SCHEMA_VERSION) == (5, 7)
    async with await PostgresStore.open(url) as store:
        assert (await store.outbox_by_keys(["k1"]))["k1"].channel == "email"
        webhook = dataclasses.replace(outbox_row("k2", due=NOW), channel="webhook")
        await store.write_plan([webhook], [], now=NOW)
        found = await store.outbox_by_keys(["k1", "k2"])
        assert {key: row.channel for key, row in found.items()} == {
            "k1": "email",
            "k2": "webhook",
        }
    assert await migrate_store(url) == (SCHEMA_VERSION, SCHEMA_VERSION)  # once


async def test_a_meta_table_of_another_program_is_not_taken_for_a_store(url: str) -> None:
    raw(url, "CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL)")
    with pytest.raises(StoreError, match=r"without a schema version touchflow wrote"):
        await open_store(url)


async def test_two_processes_opening_a_new_database_at_once_both_get_the_store(url: str) -> None:
    first, second = await asyncio.gather(PostgresStore.open(url), PostgresStore.open(url))
    async with first, second:
        await first.upsert_customers([Customer(id="c1")])
        assert await second.customer_count() == 1


async def test_drop_store_leaves_an_empty_schema_the_next_open_fills(url: str) -> None:
    async with await open_store(url) as store:
        await store.upsert_customers([Customer(id="c1")])
    await drop_store(url)
    assert raw(url, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()") == [(0,)]
    async with await open_store(url) as again:
        assert await again.customer_count() == 0


async def test_an_unreachable_server_is_a_store_error_naming_only_scheme_and_host() -> None:
    with pytest.raises(StoreError) as refused:
        await open_store("postgresql://u@127.0.0.1:1/shop?password=s3cret")
    assert str(refused.value).startswith("cannot open store postgresql://127.0.0.1:1/shop: ")
    assert "s3cret" not in str(refused.value)


# --- columns and order ----------------------------------------------------------------


async def test_instants_are_timestamptz_and_come_back_aware_in_utc(url: str) -> None:
    # A session whose zone is far from UTC (a server or a URL set so) reads the same.
    kiritimati = url.replace("options=", "options=-cTimeZone%3DPacific%2FKiritimati%20")
    async with await PostgresStore.open(kiritimati) as store:
        await store.write_plan([outbox_row("k1", due=NOW)], [], now=NOW)
        found = (await store.outbox_by_keys(["k1"]))["k1"]
    assert found.due_at == NOW and found.due_at.utcoffset() == timedelta(0)
    columns = (
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'outbox'"
    )
    types = dict(raw(url, columns))
    assert types["due_at"] == "timestamp with time zone"
    assert types["counts_for_caps"] == "boolean"


async def test_a_naive_instant_is_refused_where_it_enters(store: PostgresStore) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        await store.claim_due(owner="w", now=datetime(2026, 11, 10, 12), ttl=TTL, limit=1)


async def test_ids_are_ordered_byte_wise_as_in_sqlite_whatever_the_locale(
    store: PostgresStore,
) -> None:
    ids = ["b", "B", "a", "A", "ä", "_", "10", "9"]
    await store.upsert_customers([Customer(id=i) for i in ids])
    listed = [c.id for c in await store.list_customers(limit=100)]
    assert listed == sorted(ids)  # code point order: what SQLite's BINARY gives


# --- the pool's connections ------------------------------------------------------------


async def test_a_connection_leaves_the_pool_without_a_round_trip_unless_its_session_ended(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty query at every checkout made each claim and outcome two round trips; the
    pool still hands out no connection the server has ended (a restart, a terminate)."""
    checked: list[object] = []
    check = AsyncConnectionPool.check_connection

    async def counted(db: psycopg.AsyncConnection[object]) -> None:
        checked.append(db)
        await check(db)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", staticmethod(counted))
    async with await PostgresStore.open(url) as store:
        for _ in range(10):
            assert await store.customer_count() == 0
        assert checked == []  # a live, idle connection: taken as it is
        ended = raw(
            url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> "
            f"pg_backend_pid() AND application_name = 'touchflow pid {os.getpid()}'",
        )
        assert ended  # the pool's connection
        await asyncio.sleep(0.2)
        assert await store.customer_count() == 0  # another connection, no error
        assert checked  # the ended one was looked at, and dropped


async def test_text_that_arrays_must_escape_goes_through_claims_and_outcomes_as_written(
    store: PostgresStore,
) -> None:
    """The outbox's many-row statements pass their columns as binary arrays."""
    awkward = 'a "quoted" {braced}, back\\slash; NULL é\t'
    row = outbox_row(f"k:{awkward}", customer_id=awkward, reason=awkward, last_error=awkward)
    await store.write_plan([row], [], now=minutes(-60))
    (claimed,) = await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=1)
    assert (claimed.key, claimed.customer_id, claimed.last_error) == (row.key, awkward, awkward)
    retry = delivered(claimed, Outcome.RETRY, at=minutes(1), detail=awkward)
    done = await store.finish_claims([Finish(row=retry, attempted=True)], owner="w", now=NOW)
    assert done == [True]
    stored = (await store.outbox_by_keys([row.key]))[row.key]
    assert (stored.state, stored.last_error, stored.attempts) == (
        OutboxState.RETRY,
        retry.last_error,
        1,
    )
    assert awkward in (stored.last_error or "")


# --- claims from a long outbox ----------------------------------------------------------


async def test_a_claim_reads_the_rows_it_takes_by_key_not_the_whole_outbox(
    store: PostgresStore, url: str
) -> None:
    """Sent rows stay in the outbox for years; a claim of a worker's batch must not read
    them all (joined to its CTE, the planner chose a hash join over every row)."""
    history = [
        outbox_row(f"s{i:05d}", OutboxState.SENT, customer_id=f"c{i}") for i in range(20_000)
    ]
    ready = [outbox_row(f"r{i:03d}", customer_id=f"c{i}") for i in range(300)]
    await store.write_plan([*history, *ready], [], now=NOW)
    raw(url, "ANALYZE outbox")
    params = {"owner": "w", "now": NOW, "until": NOW + TTL, "limit": 256}
    with psycopg.connect(url) as db:
        plan = "\n".join(row[0] for row in db.execute("EXPLAIN " + SQL["claim"], params))
    assert "Seq Scan" not in plan, plan
    claimed = await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=256)
    assert len(claimed) == 256 and {r.key[0] for r in claimed} == {"r"}


async def test_outcomes_are_recorded_on_a_session_of_their_own_claims_wait_for_the_disk(
    store: PostgresStore,
) -> None:
    await store.write_plan([outbox_row("k1", due=minutes(-10))], [], now=minutes(-60))
    (claimed,) = await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=1)
    sent = delivered(claimed, Outcome.SENT, at=minutes(1))
    assert await store.finish_claims([Finish(row=sent, attempted=True)], owner="w", now=NOW)
    settings = "SELECT current_setting('synchronous_commit'), current_setting('plan_cache_mode')"
    async with store._outcomes.connection() as db:
        assert await (await db.execute(settings)).fetchall() == [("off", "force_generic_plan")]
    # Claims, plans and every other write: durable, and planned for the values given.
    assert await store._fetch(settings) == [("on", "auto")]


@pytest.mark.parametrize("analyzed", [False, True], ids=["fresh outbox", "analyzed"])
async def test_a_group_of_outcomes_planned_once_finds_each_row_by_its_key(
    store: PostgresStore, url: str, analyzed: bool
) -> None:
    """The outcomes' plan is made once per session, for any values (plan_cache_mode):
    it must not read the whole outbox, its sent history too, for a few rows."""
    rows = [outbox_row(f"r{i:05d}", customer_id=f"c{i}") for i in range(20_300)]
    await store.write_plan(rows, [], now=NOW)
    if analyzed:
        raw(url, "ANALYZE outbox")
    claimed = await store.claim_due(owner="w", now=NOW, ttl=TTL, limit=4)
    group = [Finish(row=delivered(r, Outcome.SENT, at=minutes(1)), attempted=True) for r in claimed]
    params = finish_params(group, owner="w", now=minutes(1))
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)[sb]", SQL["finish_claims"])))
    numbered = re.sub(
        r"%\((\w+)\)[sb]", lambda m: f"${names.index(m[1]) + 1}", SQL["finish_claims"]
    )
    with psycopg.connect(url) as db:
        db.execute(OUTCOME_SESSION)
        db.execute(f"PREPARE finish AS {numbered}")  # type: ignore[arg-type]
        explain = f"EXPLAIN EXECUTE finish({', '.join(['%s'] * len(names))})"
        cursor = psycopg.ClientCursor(db).execute(explain, [params[n] for n in names])
        plan = "\n".join(row[0] for row in cursor)
    assert re.search(r"claim_owner .*\$\d", plan), plan  # the generic plan: no value in it
    assert "Seq Scan" not in plan and "outbox_pkey" in plan, plan


# --- changes while a writer is in flight ----------------------------------------------


async def test_changes_are_not_read_while_a_write_that_adds_one_is_in_flight(
    store: PostgresStore, url: str
) -> None:
    """A seq drawn by an open transaction may commit below one already read; dropping up
    to that one would lose it. The reader waits for writers in flight (up to 2 s), and
    reports nothing yet if one stays."""
    await store.upsert_customers([Customer(id="c1")])
    seq, _ = await store.pending_changes(limit=10)
    await store.drop_changes(seq)
    with psycopg.connect(url) as writer:  # a transaction left open: an import in progress
        writer.execute("INSERT INTO customers (id) VALUES ('c2')")
        started = time.monotonic()
        assert await store.pending_changes(limit=10) == (0, set())
        assert time.monotonic() - started >= 1.5
        writer.commit()
    assert (await store.pending_changes(limit=10))[1] == {"c2"}


async def test_a_writer_in_flight_in_another_store_of_the_database_holds_no_reader_up(
    store: PostgresStore,
) -> None:
    await store.upsert_customers([Customer(id="a1")])
    with fresh_store_url() as other_url:
        async with await PostgresStore.open(other_url) as other:
            await other.upsert_customers([Customer(id="seed")])
        with psycopg.connect(other_url) as writer:  # an import into the other store
            writer.execute("INSERT INTO customers (id) VALUES ('b1')")
            started = time.monotonic()
            assert (await store.pending_changes(limit=10))[1] == {"a1"}
            assert time.monotonic() - started < 1.5  # no wait for the other store's writer
            writer.rollback()


async def test_drop_store_refuses_to_take_a_view_of_the_user_s_with_it(url: str) -> None:
    async with await PostgresStore.open(url):
        pass
    raw(url, "CREATE VIEW sent_today AS SELECT key FROM outbox")
    with pytest.raises(StoreError, match="depend"):
        await drop_store(url)
    assert raw(url, "SELECT COUNT(*) FROM sent_today") == [(0,)]  # neither went


def test_a_search_path_naming_no_schema_that_exists_is_said_so_at_the_lock() -> None:
    require_server()
    joiner = "&" if "?" in server_url() else "?"
    url = f"{server_url()}{joiner}options={quote('-csearch_path=tf_no_such_schema')}"
    with pytest.raises(StoreError, match="no schema named in its search_path exists"):
        AdvisoryLock(url, "touchflow run").try_acquire()


async def test_a_statement_given_a_page_of_values_is_planned_for_them_never_prepared(
    store: PostgresStore, url: str
) -> None:
    """psycopg prepares a statement on its fifth run, and the server may keep a generic
    plan for it, in which ``customer_id = ANY($1)`` compares every row with every value:
    a page of 10,000 customers against 230,000 open rows took 55 s. A statement given a
    page of values is sent unprepared, planned for those values (the array hashed)."""
    page = [f"c{i:05d}" for i in range(10_000)]
    window = (NOW, NOW + timedelta(days=30))
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as db:
        for _ in range(6):
            await fetch(db, SQL["open_outbox_of_customers_in"], (*window, page))
        assert await prepared(db) == 0
        for _ in range(6):  # a few values: prepared as psycopg does
            await fetch(db, SQL["open_outbox_of_customers_in"], (*window, page[:10]))
        assert await prepared(db) == 1


async def prepared(db: psycopg.AsyncConnection[tuple[object, ...]]) -> int:
    cursor = await db.execute("SELECT count(*) FROM pg_prepared_statements", prepare=False)
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])
