"""Events and customers from JSON values (the HTTP interface): the import's checks, by field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from touchflow.data.customers import customer_from_json
from touchflow.data.events import events_from_json
from touchflow.data.fields import FieldProblem
from touchflow.models import FieldType

TYPES = {"booked": {"starts_at": FieldType.DATETIME}, "seen": {}}


def booked(id_: str = "e1", **overrides: Any) -> dict[str, Any]:
    base = {"id": id_, "type": "booked", "customer": "c1", "at": "2026-05-01T10:00:00+02:00",
            "data": {"starts_at": "2026-05-02T10:00:00Z"}}  # fmt: skip
    return {**base, **overrides}


def test_valid_events_come_back_with_their_index_and_converted_data() -> None:
    events, problems = events_from_json([booked("e1"), booked("e2")], data_types=TYPES)
    assert problems == []
    assert [(i, e.id) for i, e in events] == [(0, "e1"), (1, "e2")]
    assert events[0][1].at == datetime(2026, 5, 1, 8, tzinfo=UTC)
    assert events[0][1].data["starts_at"] == datetime(2026, 5, 2, 10, tzinfo=UTC)


def test_each_problem_names_its_item_and_field() -> None:
    items = [
        booked("e1"),
        booked("e2", at="2026-05-01T10:00:00", type="bookd"),
        "not an object",
        booked("e4", data={"starts_at": 5}, extra=1),
        {"type": "seen"},
    ]
    _, problems = events_from_json(items, data_types=TYPES)
    assert [(p.index, p.field) for p in problems] == [
        (1, "type"), (1, "at"), (2, None), (3, "extra"), (3, "data.starts_at"),
        (4, "id"), (4, "customer"), (4, "at"),
    ]  # fmt: skip
    assert 'did you mean "booked"' in problems[0].message


def test_an_identical_repeat_is_kept_once_and_a_different_one_is_a_problem() -> None:
    events, problems = events_from_json(
        [booked(), booked(), booked(customer="c2")], data_types=TYPES
    )
    assert [(i, e.id) for i, e in events] == [(0, "e1")]
    assert problems == [
        FieldProblem(
            field="id",
            index=2,
            message='id "e1" was used for a different event at index 0; event ids must be unique',
        )
    ]


def test_a_customer_is_checked_field_by_field() -> None:
    raw = {"id": "c1", "email": "x", "country": "Germany", "tier": "gold", "consent_marketing": 2}
    customer, problems = customer_from_json(raw, attribute_types={})
    assert customer is None
    assert [p.field for p in problems] == ["email", "country", "consent_marketing"]
    assert all(p.index is None for p in problems)


def test_a_valid_customer_keeps_its_attributes() -> None:
    customer, problems = customer_from_json(
        {"id": 7, "email": "a@b.example", "since": "2020-01-01"},
        attribute_types={"since": FieldType.DATE},
    )
    assert problems == []
    assert customer is not None
    assert (customer.id, str(customer.attributes["since"])) == ("7", "2020-01-01")


def test_a_customer_that_is_not_an_object_is_one_problem() -> None:
    assert customer_from_json([1], attribute_types={}) == (
        None,
        [
            FieldProblem(
                field=None,
                message="expected a JSON object {...} with the customer's fields, not a list",
            )
        ],
    )
