"""Import files and the sample loaded into a real store: all or nothing, and the sample's
dates relative to now."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from touchflow.data.customers import parse_customers
from touchflow.data.sample_data import load_sample, template_helpers
from touchflow.errors import InputError
from touchflow.models import Customer, FieldType, SuppressionScope
from touchflow.store import Store, open_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await open_store(tmp_path / "state" / "touchflow.db") as opened:
        yield opened


async def test_a_file_with_one_bad_row_changes_nothing(store: Store, tmp_path: Path) -> None:
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


async def test_load_sample_with_relative_dates(store: Store, tmp_path: Path) -> None:
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


async def test_sample_template_error_names_file_and_line(store: Store, tmp_path: Path) -> None:
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


async def test_sample_with_one_bad_row_writes_nothing(store: Store, tmp_path: Path) -> None:
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
