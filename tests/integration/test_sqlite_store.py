"""The SQLite store as a file: what no other store shares. Opening (directories, WAL,
schema versions, upgrades of older files), the columns and text it keeps, writes in
chunks, the query plans of what runs per page and per batch, and its named statements.

What every store promises is tests/contract; this is how the SQLite one keeps it.
"""

from __future__ import annotations

import ast
import dataclasses
import sqlite3
import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from store_support import NOW, event, outbox_row

from touchflow.errors import StoreError
from touchflow.models import Customer, Suppression, SuppressionScope
from touchflow.store import CustomersWrite, Store, open_store
from touchflow.store.sqlite import SCHEMA_VERSION, SqliteStore, customers
from touchflow.store.sqlite.queries import SQL, marks

CET = timezone(timedelta(hours=1))
ROOT = Path(__file__).resolve().parents[2]
SQLITE = ROOT / "touchflow" / "store" / "sqlite"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "touchflow.db"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(path) as opened:
        yield opened


def raw_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


# --- opening ------------------------------------------------------------------------


async def test_open_creates_directories_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "touchflow.db"
    async with await SqliteStore.open(path) as opened:
        typed: Store = opened  # the SQLite store is a Store
        assert await typed.get_meta("schema_version") == SCHEMA_VERSION
        assert await typed.customer_count() == 0
    assert raw_rows(path, "PRAGMA journal_mode") == [("wal",)]
    # Reopening an existing store keeps its data and schema.
    async with await SqliteStore.open(path) as reopened:
        await reopened.set_meta("k", "v")
    async with await SqliteStore.open(path) as again:
        assert await again.get_meta("k") == "v"
        assert await again.get_meta("missing") is None


async def test_open_failure_is_a_store_error_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="not-a-dir"):
        await SqliteStore.open(blocker / "touchflow.db")


async def test_store_path_that_is_a_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot open store .*unable to open"):
        await SqliteStore.open(tmp_path)


async def test_a_store_from_a_newer_touchflow_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "touchflow.db"
    async with await SqliteStore.open(path) as opened:
        await opened.set_meta("schema_version", "99")
    with pytest.raises(StoreError, match="schema version 99"):
        await SqliteStore.open(path)


async def test_open_store_opens_a_path_or_a_sqlite_url_and_its_location_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with await open_store("sqlite:///state/relative.db") as relative:
        assert isinstance(relative, SqliteStore)
        await relative.set_meta("k", "relative")
    absolute = tmp_path / "state" / "relative.db"
    async with await open_store(f"sqlite:///{absolute}") as same:  # four slashes: absolute
        assert await same.get_meta("k") == "relative"
        async with await open_store(same.location) as again:
            assert await again.get_meta("k") == "relative"
    async with await open_store(absolute) as by_path:
        assert by_path.location == str(absolute)


# --- what the file keeps ------------------------------------------------------------------


async def test_a_re_import_tells_new_updated_and_unchanged_apart(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(customers, "WRITE_CHUNK", 2)  # three chunks, one transaction
    await store.upsert_customers(
        [Customer(id=f"c{i}", email=f"c{i}@example.com") for i in range(4)]
    )
    again = [
        Customer(id="c0", email="c0@example.com"),
        Customer(id="c1", email="moved@example.com"),
        Customer(id="c2", email="c2@example.com"),
        Customer(id="c3", email="c3@example.com", first_name="Ana"),
        Customer(id="c4"),
    ]
    done: list[int] = []
    written = await store.upsert_customers(again, progress=done.append)
    assert written == CustomersWrite(new=1, updated=2, unchanged=2)
    assert written.total == 5
    assert done == [2, 4, 5]
    assert await store.customer_count() == 5


async def test_month_day_columns_are_kept_for_yearly_rules(store: SqliteStore) -> None:
    customer = Customer(id="c1", birthday=date(1992, 2, 29), customer_since=date(2019, 11, 5))
    await store.upsert_customers([customer])
    assert raw_rows(store.path, "SELECT birthday_md, since_md FROM customers") == [
        ("02-29", "11-05")
    ]
    await store.upsert_customers([Customer(id="c1")])
    assert raw_rows(store.path, "SELECT birthday_md, since_md FROM customers") == [(None, None)]


async def test_event_time_is_stored_as_sortable_utc_text_and_data_dates_as_iso(
    store: SqliteStore,
) -> None:
    starts = datetime(2026, 5, 3, 9, 30, tzinfo=CET)
    await store.add_events(
        [event("e1", "c1", "2026-05-01T10:00:00+02:00", starts=starts, day=date(2026, 5, 3))]
    )
    assert raw_rows(store.path, "SELECT at, data FROM events") == [
        ("2026-05-01T08:00:00.000000Z", '{"starts":"2026-05-03T09:30:00+01:00","day":"2026-05-03"}')
    ]
    await store.upsert_customers([Customer(id="c1")])
    [facts] = await store.load_facts()
    [stored] = facts.events
    assert stored.at == datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    assert stored.data == {"starts": "2026-05-03T09:30:00+01:00", "day": "2026-05-03"}


# --- the version-1 store ---------------------------------------------------------------

# touchflow/store/schema.sql (now store/sqlite/schema.sql) as released with schema version 1.
V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

INSERT INTO meta (key, value) VALUES ('schema_version', '1')
    ON CONFLICT (key) DO NOTHING;

CREATE TABLE IF NOT EXISTS customers (
    id                TEXT PRIMARY KEY,
    email             TEXT,
    phone             TEXT,
    first_name        TEXT,
    last_name         TEXT,
    timezone          TEXT,
    locale            TEXT,
    country           TEXT,
    birthday          TEXT,
    customer_since    TEXT,
    consent_marketing INTEGER NOT NULL DEFAULT 0,
    attributes        TEXT NOT NULL DEFAULT '{}',
    birthday_md       TEXT,
    since_md          TEXT
);

CREATE INDEX IF NOT EXISTS customers_birthday_md ON customers (birthday_md);
CREATE INDEX IF NOT EXISTS customers_since_md ON customers (since_md);

CREATE TABLE IF NOT EXISTS events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    at          TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS events_customer_at ON events (customer_id, at);
CREATE INDEX IF NOT EXISTS events_type_at ON events (type, at);

CREATE TABLE IF NOT EXISTS suppressions (
    email      TEXT NOT NULL,
    scope      TEXT NOT NULL,
    reason     TEXT,
    created_at TEXT,
    PRIMARY KEY (email, scope)
);
"""


def make_v1_store(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        db.execute(
            "INSERT INTO customers (id, email, first_name, birthday, birthday_md, attributes) "
            "VALUES ('c1', 'Ana@Example.com', 'Ana', '1990-11-10', '11-10', '{\"tier\":\"gold\"}')"
        )
        db.execute(
            "INSERT INTO events (id, type, customer_id, at, data) VALUES "
            "('e1', 'order', 'c1', '2026-11-01T10:00:00.000000Z', '{\"total\":12}')"
        )
        db.execute(
            "INSERT INTO suppressions (email, scope) VALUES ('ana@example.com', 'marketing')"
        )
    db.close()


async def test_a_version_1_store_is_upgraded_in_place_keeping_its_data(path: Path) -> None:
    make_v1_store(path)
    async with await SqliteStore.open(path) as store:
        assert await store.get_meta("schema_version") == SCHEMA_VERSION
        (facts,) = await store.load_facts(sent_since=NOW)
        assert (facts.customer.id, facts.customer.first_name) == ("c1", "Ana")
        assert facts.customer.attributes == {"tier": "gold"}
        assert [(e.id, dict(e.data)) for e in facts.events] == [("e1", {"total": 12})]
        events, _ = await store.customer_events("c1")
        assert [(e.id, e.recorded_at) for e in events] == [("e1", None)]  # not known
        assert facts.suppressed == frozenset({SuppressionScope.MARKETING})
        assert facts.sent == ()
        # The new tables and triggers work on the upgraded file.
        assert await store.write_plan([outbox_row("k1")], [], now=NOW) == (1, 0)
        await store.upsert_customers([Customer(id="c2")])
        assert await store.pending_changes(limit=10) == (1, {"c2"})
    indexes = {str(r[0]) for r in raw_rows(path, "SELECT name FROM sqlite_master")}
    assert {"outbox", "changes", "customers_email", "outbox_ready"} <= indexes
    # Opening it again is a no-op: still the version, data and outbox kept.
    async with await SqliteStore.open(path) as again:
        assert await again.get_meta("schema_version") == SCHEMA_VERSION
        assert list(await again.outbox_by_keys(["k1"])) == ["k1"]
        assert await again.customer_count() == 2


async def test_a_version_2_store_gets_created_at_and_its_customers_keep_none(path: Path) -> None:
    async with await SqliteStore.open(path) as store:
        await store.upsert_customers([Customer(id="c1", first_name="Ana")], now=NOW)
    # A version 2 file: the same schema without customers.created_at (nor what came later).
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE customers DROP COLUMN created_at")
        db.execute("ALTER TABLE events DROP COLUMN recorded_at")
        db.execute("ALTER TABLE outbox DROP COLUMN channel")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()
    async with await SqliteStore.open(path) as store:
        assert await store.get_meta("schema_version") == SCHEMA_VERSION
        # When c1 came is not known: None, so the planner leaves nothing of theirs out.
        await store.upsert_customers([Customer(id="c1", first_name="Ana B.")], now=NOW)
        await store.upsert_customers([Customer(id="c2")], now=NOW)
        facts = await store.load_facts()
        assert [(f.customer.id, f.customer.created_at) for f in facts] == [
            ("c1", None),
            ("c2", NOW),
        ]
    async with await SqliteStore.open(path) as again:  # upgraded once: opening is a no-op
        assert await again.get_meta("schema_version") == SCHEMA_VERSION
        assert await again.customer_count() == 2


async def test_a_version_5_store_gets_consent_sms_and_suppressed_numbers(path: Path) -> None:
    async with await SqliteStore.open(path) as store:
        await store.upsert_customers([Customer(id="c1", phone="+4915112345678")], now=NOW)
    # A version 5 file: the same schema without customers.consent_sms and the phone trigger.
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER suppressions_inserted_phone")
        db.execute("DROP INDEX customers_phone")
        db.execute("ALTER TABLE customers DROP COLUMN consent_sms")
        db.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    db.close()
    async with await SqliteStore.open(path) as store:
        assert await store.get_meta("schema_version") == SCHEMA_VERSION == "6"
        [before] = await store.load_facts()
        assert before.customer.consent_sms is False  # stored before: no consent to texts
        seq, _ = await store.pending_changes(limit=100)
        await store.drop_changes(seq)
        await store.add_suppression(
            Suppression(email="+4915112345678", scope=SuppressionScope.ALL, reason="STOP")
        )
        _, changed = await store.pending_changes(limit=100)
        assert changed == {"c1"}  # the trigger made on opening finds the number
        [after] = await store.load_facts()
        assert after.suppressed_phone == {SuppressionScope.ALL}
    async with await SqliteStore.open(path) as again:  # upgraded once: opening is a no-op
        assert await again.get_meta("schema_version") == SCHEMA_VERSION


async def test_a_version_3_store_gets_recorded_at_and_its_events_keep_none(path: Path) -> None:
    async with await SqliteStore.open(path) as store:
        await store.add_events([event("e1", "c1", "2026-05-01T10:00:00Z")], now=NOW)
    # A version 3 file: the same schema without events.recorded_at.
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE events DROP COLUMN recorded_at")
        db.execute("ALTER TABLE outbox DROP COLUMN channel")
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.close()
    async with await SqliteStore.open(path) as store:
        assert await store.get_meta("schema_version") == SCHEMA_VERSION == "6"
        later = NOW + timedelta(hours=1)
        await store.add_events([event("e2", "c1", "2026-05-02T10:00:00Z")], now=later)
        events, _ = await store.customer_events("c1")
        assert [(e.id, e.recorded_at) for e in events] == [("e2", later), ("e1", None)]
        known = await store.known_since(["c1"])
        assert dict(known["c1"].events) == {"e1": None, "e2": later}
    async with await SqliteStore.open(path) as again:  # upgraded once: opening is a no-op
        assert await again.get_meta("schema_version") == SCHEMA_VERSION
        assert (await again.customer_events("c1"))[1] == 2


async def test_a_version_4_store_gets_the_outbox_channel_and_its_rows_are_email(
    path: Path,
) -> None:
    async with await SqliteStore.open(path) as store:
        await store.write_plan([outbox_row("k1")], [], now=NOW)
    # A version 4 file: the same schema without outbox.channel.
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE outbox DROP COLUMN channel")
        db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    db.close()
    async with await SqliteStore.open(path) as store:
        assert await store.get_meta("schema_version") == SCHEMA_VERSION == "6"
        assert (await store.outbox_by_keys(["k1"]))["k1"].channel == "email"
        webhook = dataclasses.replace(outbox_row("k2"), channel="webhook")
        await store.write_plan([webhook], [], now=NOW)
        found = await store.outbox_by_keys(["k1", "k2"])
        assert {key: row.channel for key, row in found.items()} == {
            "k1": "email",
            "k2": "webhook",
        }
    async with await SqliteStore.open(path) as again:  # upgraded once: opening is a no-op
        assert await again.get_meta("schema_version") == SCHEMA_VERSION
        assert (await again.outbox_by_keys(["k2"]))["k2"].channel == "webhook"


# --- query plans and named statements ---------------------------------------------------

# What runs per page of a full plan, per dispatch batch and per lookup of one address:
# each must find its rows through an index, never by reading a whole table.
INDEXED = {
    "claim": ("owner", "until", "now", "now", 10),
    "customers_page": ("", 10),
    "customers_page_up_to": ("", "c9", 10),
    "events_page": ("c1", "c9"),
    "suppression_scopes_page": ("c1", "c9", "sha256:", "sha256;"),
    "sent_page": ("2026-01-01", "c1", "c9"),
    "open_outbox": ("2026-01-01", "2026-02-01"),
    "open_outbox_of_customers_in": ("2026-01-01", "2026-02-01", "c1"),
    "outbox_rows_in": ("k1",),
    "list_customers_by_email": ("", "ana@example.com", 10),
    "next_ready_at": (),
    "outbox_trouble_held": ("2026-01-01", "rejected"),
    "outbox_trouble_held_any": ("2026-01-01", "bounced"),
    # known_since and sent_of_customers (a backtest), per chunk of customers.
    "customer_emails_in": ("c1",),
    "events_recorded_in": ("c1",),
    "suppressions_known_in": ("ana@example.com",),
    "sent_of_customers_between": ("2026-01-01", "2026-02-01", "c1"),
}


async def test_what_runs_per_page_and_per_batch_reads_by_index(store: SqliteStore) -> None:
    with sqlite3.connect(store.path) as db:
        for name, params in INDEXED.items():
            sql = SQL[name].format(marks=marks(1))
            plan = [str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            assert not [step for step in plan if step.startswith("SCAN ")], (name, plan)


def test_every_named_statement_is_used_and_every_name_used_is_there() -> None:
    """A statement is named in the code (``SQL["name"]``, or a tuple of names the code
    runs, here or in the reader every store shares) or put into another one as a
    fragment: none is left over, none is missing."""
    names = set()
    for module in [*SQLITE.glob("*.py"), SQLITE.parent / "history.py"]:
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
    text = (SQLITE / "queries.sql").read_text(encoding="utf-8")
    fragments = {name for name in SQL if "{" + name + "}" in text}
    assert set(SQL) - names - fragments == set()
    subscripts = set()
    for module in SQLITE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "SQL":
                if isinstance(node.slice, ast.Constant):
                    subscripts.add(node.slice.value)
    assert subscripts and subscripts <= set(SQL)


def test_the_sql_files_ship_with_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = project["tool"]["setuptools"]["package-data"]["touchflow"]
    package = ROOT / "touchflow"
    matched = {p for pattern in shipped for p in package.glob(pattern)}
    sql_files = set(package.rglob("*.sql"))
    assert {p.name for p in sql_files} >= {"schema.sql", "queries.sql"}
    assert sql_files <= matched


# A full plan looks up each page's open rows by customer, in chunks, while it writes pages:
# on any index but the customer's, each chunk reads every open row written so far, and
# the plan turns quadratic (issue 15). The sends that count for caps of one customer
# (`why`, the console's customer page) or of a page: on the state index, everyone's sends
# since then (4 s for one customer at 1M rows, issue 18). Neither statistics nor their
# absence may change that.
PER_CUSTOMER = {
    "open_outbox_of_customers_in": ("2026-01-01", "2026-02-01", "c1", "c2", "c3"),
    "sent_of_customers_in": ("2026-01-01", "c1", "c2", "c3"),
    "sent_page": ("2026-01-01", "c1", "c3"),
}


def _plan_of(db: sqlite3.Connection, name: str) -> list[str]:
    sql = SQL[name].format(marks=marks(3))
    params = PER_CUSTOMER[name]
    return [str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


async def test_open_rows_and_sends_of_customers_are_read_on_the_customer_index(
    store: SqliteStore, path: Path
) -> None:
    with sqlite3.connect(path) as db:
        for name in PER_CUSTOMER:
            assert "USING INDEX outbox_customer" in " ".join(_plan_of(db, name)), name
        # Statistics that make the customer index look useless (one customer, a million
        # rows) and the state index perfect: the plan stays on the customer index.
        db.execute("ANALYZE")
        db.execute("DELETE FROM sqlite_stat1")
        db.executemany(
            "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('outbox', ?, ?)",
            [("outbox_customer", "1000000 1000000 1000000"), ("outbox_state", "1000000 1 1")],
        )
        db.execute("ANALYZE sqlite_schema")  # reload the statistics
        for name in PER_CUSTOMER:
            assert "USING INDEX outbox_customer" in " ".join(_plan_of(db, name)), name


def _steps_to_read_open_rows_of_three(path: Path) -> int:
    """Virtual machine steps (in hundreds) to read three customers' open rows."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    with sqlite3.connect(path) as db:
        db.set_progress_handler(count, 100)
        sql = SQL["open_outbox_of_customers_in"].format(marks=marks(3))
        db.execute(sql, ("2026-01-01", "2026-02-01", "c1", "c2", "c3")).fetchall()
    return steps


async def test_reading_a_pages_open_rows_does_not_grow_with_the_outbox(
    store: SqliteStore, path: Path
) -> None:
    """What a full plan's page costs does not depend on how many pages were written."""
    due = datetime(2026, 1, 10, 9, tzinfo=UTC)
    mine = [outbox_row(f"k{c}", due=due, customer_id=c) for c in ("c1", "c2", "c3")]
    await store.write_plan(mine, [], now=NOW)
    steps = []
    for others in (1000, 4000):
        rows = [outbox_row(f"o{others}-{i}", due=due, customer_id=f"x{i}") for i in range(others)]
        await store.write_plan(rows, [], now=NOW)
        steps.append(_steps_to_read_open_rows_of_three(path))
    # On the (state, due_at) index: about 4 times the steps for 4 times the open rows.
    assert steps[1] <= steps[0] + 1, steps


async def test_the_console_s_outbox_pages_read_by_index_at_any_depth(
    store: SqliteStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each filter of the console's outbox page, on a deep page: read by an index in due
    order, never a scan of the outbox nor a sort of all of it."""
    seen: list[tuple[str, tuple[object, ...]]] = []

    async def record(statement: str, params: object) -> list[object]:
        seen.append((statement, tuple(params)))  # type: ignore[call-overload]
        return []

    monkeypatch.setattr(store, "_select", record)
    after = (NOW, "k1")
    for kw in ({}, {"rule_id": "r"}, {"customer_id": "c1"}, {"states": [outbox_row("k").state]}):
        await store.list_outbox(after=after, limit=101, **kw)  # type: ignore[arg-type]
    with sqlite3.connect(path) as db:
        for statement, params in seen:
            plan = " | ".join(
                str(r[3]) for r in db.execute(f"EXPLAIN QUERY PLAN {statement}", params)
            )
            assert "USING INDEX" in plan and "SCAN outbox" not in plan, plan
            assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


@pytest.mark.parametrize(
    ("name", "params", "index"),
    [
        ("last_sent_at", (), "outbox_sent"),
        ("next_ready_at", (), "outbox_ready"),
        ("outbox_ready_count", ("2026-01-01",), "outbox_ready"),
    ],
)
async def test_health_s_figures_are_read_on_their_partial_indexes(
    store: SqliteStore, path: Path, name: str, params: tuple[str, ...], index: str
) -> None:
    """Not on (state, due_at), which SQLite prefers without statistics: every open or
    sent row read (0.6-0.8 s at a million rows)."""
    with sqlite3.connect(path) as db:
        explained = db.execute(f"EXPLAIN QUERY PLAN {SQL[name]}", params)
        plan = " | ".join(str(r[3]) for r in explained)
    assert f"INDEX {index}" in plan, plan


async def test_a_read_only_open_writes_nothing_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with pytest.raises(StoreError, match="cannot open store"):
        await SqliteStore.open(path, read_only=True)
    assert not path.exists()  # not made
    async with await SqliteStore.open(path) as store:
        await store.set_meta("owner", "ops")
    async with await SqliteStore.open(path, read_only=True) as store:
        assert await store.get_meta("owner") == "ops"
        with pytest.raises(StoreError, match="readonly database"):
            await store.set_meta("owner", "someone else")


def test_the_trouble_index_holds_the_reasons_trouble_asks_for() -> None:
    """send/trouble.py's reasons are read on the partial index: the index's WHERE (in the
    schema and, word for word, in the statement) names them, and the store knows so."""
    from touchflow.send import trouble
    from touchflow.store.sqlite.stats import TROUBLE_INDEXED

    listed = "('invalid_data', 'render_error', 'invalid_message', 'rejected')"
    schema = (SQLITE / "schema.sql").read_text(encoding="utf-8")
    assert (
        f"AND reason IN {listed};" in schema
        and f"AND reason IN {listed}" in SQL["outbox_trouble_held"]
    )
    assert set(trouble._REASONS) == TROUBLE_INDEXED == set(ast.literal_eval(listed))
