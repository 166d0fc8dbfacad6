"""The SQLite store on a real file, and sample loading into it."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from touchflow.data.importer import parse_customers
from touchflow.data.sample_data import load_sample, template_helpers
from touchflow.errors import InputError, StoreError
from touchflow.models import Customer, Event, FieldType, Suppression, SuppressionScope
from touchflow.store import CustomersWrite, Store
from touchflow.store.sqlite import SqliteStore, customers as sqlite
from touchflow.store import hashed_address

CET = timezone(timedelta(hours=1))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def event(id_: str, customer: str, when: str, **data: object) -> Event:
    return Event(id=id_, type="order", customer_id=customer, at=at(when), data=data)


def _fields(customer: Customer) -> dict[str, object]:
    return {name: getattr(customer, name) for name in Customer.__dataclass_fields__}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(tmp_path / "state" / "touchflow.db") as opened:
        yield opened


def raw_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


# --- opening ------------------------------------------------------------------------


async def test_open_creates_directories_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "touchflow.db"
    async with await SqliteStore.open(path) as opened:
        typed: Store = opened  # the SQLite store is a Store
        assert await typed.get_meta("schema_version") == "3"
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


# --- customers ------------------------------------------------------------------------


async def test_upsert_replaces_the_whole_row(store: SqliteStore) -> None:
    first = Customer(
        id="c1",
        email="ann@example.com",
        first_name="Ann",
        timezone="Europe/Berlin",
        birthday=date(1990, 2, 28),
        customer_since=date(2020, 6, 1),
        consent_marketing=True,
        attributes={"tier": "gold", "since": date(2024, 1, 2)},
    )
    assert await store.upsert_customers([first, Customer(id="c2")]) == CustomersWrite(
        new=2, updated=0, unchanged=0
    )
    stored = await store.get_customer("c1")
    # Declared dates in attributes come back as ISO text: readers parse by declared type.
    assert stored == Customer(
        **{**_fields(first), "attributes": {"tier": "gold", "since": "2024-01-02"}}
    )

    replaced = await store.upsert_customers([Customer(id="c1", email="new@example.com")])
    assert replaced == CustomersWrite(new=0, updated=1, unchanged=0)
    assert await store.get_customer("c1") == Customer(id="c1", email="new@example.com")
    assert await store.customer_count() == 2
    assert await store.get_customer("nobody") is None


async def test_a_customer_keeps_the_time_it_was_first_stored(store: SqliteStore) -> None:
    came = at("2026-11-20T09:30:00+01:00")
    await store.upsert_customers([Customer(id="c1", first_name="Ann")], now=came)
    stored = await store.get_customer("c1")
    assert stored is not None and stored.created_at == came
    # Replaced (a re-import, an HTTP PUT) later: the customer existed since the first time.
    await store.upsert_customers(
        [Customer(id="c1", first_name="Anna")], now=came + timedelta(days=3)
    )
    (facts,) = await store.load_facts()
    assert (facts.customer.first_name, facts.customer.created_at) == ("Anna", came)
    # Stored without saying when: not known, nothing is left out for it.
    await store.upsert_customers([Customer(id="c2")])
    assert [f.customer.created_at for f in await store.load_facts()] == [came, None]


async def test_a_re_import_tells_new_updated_and_unchanged_apart(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "WRITE_CHUNK", 2)  # three chunks, one transaction
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


# --- events ---------------------------------------------------------------------------


async def test_events_are_idempotent_by_id(store: SqliteStore) -> None:
    await store.upsert_customers([Customer(id="c1")])
    e1 = event("e1", "c1", "2026-05-01T10:00:00+00:00")
    e2 = event("e2", "c1", "2026-05-02T10:00:00+00:00")
    assert await store.add_events([e1, e2]) == (2, 0)
    changed = event("e1", "c1", "2026-06-01T10:00:00+00:00", note="ignored")
    e3 = event("e3", "c1", "2026-05-03T10:00:00+00:00")
    assert await store.add_events([changed, e2, e3, e3]) == (1, 3)
    [facts] = await store.load_facts()
    assert [e.id for e in facts.events] == ["e1", "e2", "e3"]
    assert facts.events[0] == e1  # the first version of e1 stays


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


# --- facts ----------------------------------------------------------------------------


async def test_load_facts_orders_customers_by_id_and_events_by_time_then_id(
    store: SqliteStore,
) -> None:
    await store.upsert_customers([Customer(id=i) for i in ("c3", "c1", "c2")])
    await store.add_events(
        [
            event("b", "c1", "2026-05-01T09:00:00+00:00"),
            event("a", "c1", "2026-05-01T09:00:00+00:00"),  # same instant: id decides
            event("late", "c1", "2026-05-01T12:00:00+02:00"),  # 10:00 UTC
            event("early", "c1", "2026-05-01T10:30:00+02:00"),  # 08:30 UTC
            event("other", "c3", "2026-01-01T00:00:00+00:00"),
            event("orphan", "nobody", "2026-01-01T00:00:00+00:00"),
        ]
    )
    facts = await store.load_facts()
    assert [f.customer.id for f in facts] == ["c1", "c2", "c3"]
    assert [e.id for e in facts[0].events] == ["early", "a", "b", "late"]
    assert facts[1].events == ()
    assert [e.id for e in facts[2].events] == ["other"]
    assert all(f.sent == () for f in facts)


async def test_load_facts_for_some_customers(store: SqliteStore) -> None:
    # More ids than one IN (...) chunk holds.
    await store.upsert_customers([Customer(id=f"c{i:04d}") for i in range(1200)])
    await store.add_events(
        [event(f"e{i}", f"c{i:04d}", "2026-05-01T09:00:00+00:00") for i in (5, 1100)]
    )
    wanted = [f"c{i:04d}" for i in range(1199, 0, -2)] + ["nobody"]
    facts = await store.load_facts(customer_ids=wanted)
    assert [f.customer.id for f in facts] == sorted(wanted)[:-1]
    assert {f.customer.id: [e.id for e in f.events] for f in facts if f.events} == {"c0005": ["e5"]}
    assert await store.load_facts(customer_ids=[]) == []


async def test_facts_pages_are_everyone_in_id_order_a_page_at_a_time(
    store: SqliteStore,
) -> None:
    await store.upsert_customers(
        [Customer(id=f"c{i}", email=f"C{i}@Example.com") for i in (6, 0, 3, 1, 5, 2, 4)]
    )
    await store.add_events(
        [
            event("late", "c3", "2026-05-02T09:00:00+00:00"),
            event("early", "c3", "2026-05-01T09:00:00+00:00"),
            event("one", "c1", "2026-05-01T09:00:00+00:00"),
            event("six", "c6", "2026-05-01T09:00:00+00:00"),
            event("orphan", "c9", "2026-05-01T09:00:00+00:00"),
        ]
    )
    await store.add_suppression(Suppression(email="c5@example.com", scope=SuppressionScope.ALL))
    with sqlite3.connect(store.path) as db:  # c4 was erased once, and came back
        db.execute(
            "INSERT INTO suppressions (email, scope) VALUES (?, 'marketing')",
            (hashed_address("c4@example.com"),),
        )
    sent_at = "2026-05-03T10:00:00.000000Z"
    with sqlite3.connect(store.path) as db:  # two sends that count towards caps, one too old
        for key, customer, when in (("k1", "c2", sent_at), ("k2", "c2", "2026-01-01T00:00:00Z")):
            db.execute(
                "INSERT INTO outbox (key, rule_id, customer_id, category, counts_for_caps, state,"
                " due_at, expires_at, next_attempt_at, attempts, sent_at, created_at, updated_at)"
                " VALUES (?, 'r', ?, 'marketing', 1, 'sent', ?, ?, ?, 1, ?, ?, ?)",
                (key, customer, when, when, when, when, when, when),
            )
    since = datetime(2026, 5, 1, tzinfo=UTC)
    pages = [page async for page in store.facts_pages(page_size=3, sent_since=since)]
    assert [[f.customer.id for f in page] for page in pages] == [
        ["c0", "c1", "c2"], ["c3", "c4", "c5"], ["c6"],
    ]  # fmt: skip
    assert [f for page in pages for f in page] == await store.load_facts(sent_since=since)
    by_id = {f.customer.id: f for page in pages for f in page}
    assert [e.id for e in by_id["c3"].events] == ["early", "late"]
    assert by_id["c5"].suppressed == {SuppressionScope.ALL}
    assert by_id["c4"].suppressed == {SuppressionScope.MARKETING}
    assert by_id["c3"].suppressed == set()
    assert [s.key for s in by_id["c2"].sent] == ["k1"]


async def test_facts_pages_of_an_empty_store_is_no_page(store: SqliteStore) -> None:
    assert [page async for page in store.facts_pages(page_size=3)] == []


async def test_suppressions_apply_case_insensitively_and_by_scope(store: SqliteStore) -> None:
    await store.upsert_customers(
        [
            Customer(id="ann", email="Ann@Example.COM"),
            Customer(id="bob", email="bob@example.com"),
            Customer(id="cat", email="cat@example.com"),
            Customer(id="dan"),
        ]
    )
    await store.add_suppression(
        Suppression(email="ann@example.com", scope=SuppressionScope.MARKETING)
    )
    await store.add_suppression(Suppression(email=" BOB@example.com", scope=SuppressionScope.ALL))
    await store.add_suppression(
        Suppression(email="bob@example.com", scope=SuppressionScope.MARKETING, reason="asked")
    )
    expected = {
        "ann": {SuppressionScope.MARKETING},
        "bob": {SuppressionScope.ALL, SuppressionScope.MARKETING},
        "cat": set(),
        "dan": set(),
    }
    everyone = await store.load_facts()
    assert {f.customer.id: set(f.suppressed) for f in everyone} == expected
    some = await store.load_facts(customer_ids=["ann", "cat"])
    assert {f.customer.id: set(f.suppressed) for f in some} == {
        "ann": expected["ann"],
        "cat": set(),
    }
    assert raw_rows(store.path, "SELECT email, scope, reason FROM suppressions ORDER BY 1, 2") == [
        ("ann@example.com", "marketing", None),
        ("bob@example.com", "all", None),
        ("bob@example.com", "marketing", "asked"),
    ]


async def test_repeated_suppression_keeps_its_first_date(store: SqliteStore) -> None:
    first = datetime(2026, 1, 1, tzinfo=UTC)
    scope = SuppressionScope.ALL
    await store.add_suppression(Suppression(email="a@x.org", scope=scope, created_at=first))
    later = first + timedelta(days=30)
    await store.add_suppression(
        Suppression(email="A@x.org", scope=scope, reason="bounced", created_at=later)
    )
    assert raw_rows(store.path, "SELECT reason, created_at FROM suppressions") == [
        ("bounced", "2026-01-01T00:00:00.000000Z")
    ]


# --- all or nothing -----------------------------------------------------------------------


async def test_a_file_with_one_bad_row_changes_nothing(store: SqliteStore, tmp_path: Path) -> None:
    await store.upsert_customers([Customer(id="c1", email="old@example.com")])
    path = tmp_path / "customers.csv"
    path.write_text(
        "id,email,birthday\nc1,new@example.com,1990-01-01\nc2,,1990-02-30\nc3,,\n",
        encoding="utf-8",
    )

    async def import_file() -> None:
        await store.upsert_customers(parse_customers(path, attribute_types={}))

    with pytest.raises(InputError) as caught:
        await import_file()
    assert [p.line for p in caught.value.problems] == [3]
    assert await store.customer_count() == 1
    assert await store.get_customer("c1") == Customer(id="c1", email="old@example.com")


async def test_a_failed_write_rolls_back_the_whole_batch(store: SqliteStore) -> None:
    # A value JSON cannot hold fails half-way through building the batch rows.
    bad = Customer(id="c2", attributes={"x": object()})
    with pytest.raises(TypeError):
        await store.upsert_customers([Customer(id="c1"), bad])
    assert await store.customer_count() == 0
    # The connection is usable afterwards: no transaction was left open.
    assert (await store.upsert_customers([Customer(id="c1")])).new == 1


# --- sample data ----------------------------------------------------------------------------

LEAP_DAY_NOON = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)


def write_sample(root: Path, customers: str, events: str, suppressions: str | None = None) -> Path:
    sample = root / "sample"
    sample.mkdir()
    (sample / "customers.jsonl").write_text(customers, encoding="utf-8")
    (sample / "events.jsonl").write_text(events, encoding="utf-8")
    if suppressions is not None:
        (sample / "suppressions.jsonl").write_text(suppressions, encoding="utf-8")
    return sample


def test_sample_helpers_are_relative_to_now() -> None:
    h = template_helpers(LEAP_DAY_NOON)
    assert h["today"] == date(2028, 2, 29)
    assert h["date"](days=3) == "2028-03-03"
    assert h["ago"](years=4) == "2024-02-29"
    # No Feb 29 in the target year: the day before.
    assert h["ago"](years=34) == "1994-02-28"
    assert h["ago"](years=34, days=3) == "1994-03-03"
    assert h["at"](days=1, time="09:00", tz="Europe/Berlin") == "2028-03-01T09:00:00+01:00"
    assert h["at"](time=None, hours=2) == "2028-02-29T14:00:00+00:00"
    assert h["at"](days=-1, time="10:00", minutes=90) == "2028-02-28T11:30:00+00:00"


async def test_load_sample_with_relative_dates(store: SqliteStore, tmp_path: Path) -> None:
    sample = write_sample(
        tmp_path,
        customers=(
            '{"id": "c1", "email": "Ann@Example.com", "birthday": "{{ ago(years=34) }}"}\n'
            '{"id": "c2", "customer_since": "{{ date(days=-400) }}", "visits": "3"}\n'
        ),
        events=(
            "{# a comment line keeps the line count #}\n"
            '{"id": "e1", "type": "appointment", "customer": "c1",'
            ' "at": "{{ at(days=-1, tz=\'Europe/Berlin\') }}",'
            ' "data": {"starts": "{{ at(days=2, time=\'15:30\', tz=\'Europe/Berlin\') }}"}}\n'
        ),
        suppressions='{"email": "ann@example.com", "scope": "marketing", "reason": "demo"}\n',
    )
    summary = await load_sample(
        store,
        sample,
        now=LEAP_DAY_NOON,
        attribute_types={"visits": FieldType.INT},
        data_types={"appointment": {"starts": FieldType.DATETIME}},
    )
    assert (summary.customers, summary.events, summary.suppressions) == (2, 1, 1)
    facts = {f.customer.id: f for f in await store.load_facts()}
    assert facts["c1"].customer.birthday == date(1994, 2, 28)
    assert facts["c2"].customer.customer_since == date(2027, 1, 25)
    assert facts["c2"].customer.attributes == {"visits": 3}
    [appointment] = facts["c1"].events
    assert appointment.at == datetime(2028, 2, 28, 9, 0, tzinfo=UTC)
    assert appointment.data == {"starts": "2028-03-02T15:30:00+01:00"}
    assert facts["c1"].suppressed == {SuppressionScope.MARKETING}
    assert await store.get_meta("sample_loaded_at") == "2028-02-29T12:00:00+00:00"


async def test_sample_template_error_names_file_and_line(
    store: SqliteStore, tmp_path: Path
) -> None:
    sample = write_sample(
        tmp_path,
        customers='{"id": "c1"}\n{"id": "c2", "birthday": "{{ agoo(years=3) }}"}\n',
        events='{"id": "e1", "type": "t", "customer": "c1", "at": "{{ at(tz=\'Mars/Base\') }}"}\n',
    )
    with pytest.raises(InputError) as caught:
        await load_sample(store, sample, now=LEAP_DAY_NOON, attribute_types={}, data_types={})
    assert [(Path(p.path).name, p.line) for p in caught.value.problems] == [
        ("customers.jsonl", 2),
        ("events.jsonl", 1),
    ]
    assert "'agoo' is undefined" in caught.value.problems[0].message
    assert 'unknown time zone "Mars/Base"' in caught.value.problems[1].message
    assert await store.customer_count() == 0
    assert await store.get_meta("sample_loaded_at") is None


async def test_sample_with_one_bad_row_writes_nothing(store: SqliteStore, tmp_path: Path) -> None:
    sample = write_sample(
        tmp_path,
        customers='{"id": "c1", "birthday": "{{ ago(years=30) }}"}\n',
        events=(
            '{"id": "e1", "type": "t", "customer": "c1", "at": "{{ at() }}"}\n'
            '{"id": "e2", "type": "t", "customer": "c1", "at": "{{ date() }}T10:00:00"}\n'
        ),
    )
    with pytest.raises(InputError) as caught:
        await load_sample(store, sample, now=LEAP_DAY_NOON, attribute_types={}, data_types={})
    [problem] = caught.value.problems
    assert (Path(problem.path).name, problem.line) == ("events.jsonl", 2)
    assert "has no UTC offset" in problem.message
    assert await store.customer_count() == 0
    assert await store.load_facts() == []


async def test_a_write_cancelled_at_any_moment_leaves_no_transaction_open(
    store: SqliteStore,
) -> None:
    # A daemon stopped while a statement is on its way to SQLite's thread: whatever
    # the moment, the next transaction must start cleanly.
    for ticks in range(40):
        task = asyncio.create_task(store.set_meta("k", str(ticks)))
        for _ in range(ticks % 8):
            await asyncio.sleep(0)
        await asyncio.sleep(0.0002 * (ticks // 8))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.set_meta("after", str(ticks))
        assert await store.get_meta("after") == str(ticks)
