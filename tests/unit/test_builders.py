"""touchflow.builders: what a builder makes is what the class's __init__ makes."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest

from touchflow.builders import builder, positional_builder
from touchflow.models import Category, Customer, PlannedTouchpoint, Status
from touchflow.plan.occurrences import Occurrence


def test_a_built_object_is_an_ordinary_instance_equal_to_the_constructed_one() -> None:
    fields = dict(id="c1", email="a@example.com", birthday=date(1990, 2, 28), attributes={"t": 1})
    built, made = builder(Customer)(**fields), Customer(**fields)  # type: ignore[arg-type]
    assert type(built) is Customer
    assert built == made and repr(built) == repr(made)
    assert pickle.loads(pickle.dumps(built)) == made
    with pytest.raises(AttributeError):
        built.id = "c2"  # type: ignore[misc]  # still frozen


def test_defaults_and_default_factories_are_the_classes() -> None:
    a, b = builder(Occurrence)(key="k", anchor=None), builder(Occurrence)(key="k", anchor=None)
    assert a == Occurrence(key="k", anchor=None)
    assert a.data == {} and a.data is not b.data  # a fresh one each time, like __init__
    now = datetime(2026, 11, 23, tzinfo=UTC)
    tp = builder(PlannedTouchpoint)(
        key="k", rule_id="r", customer_id="c", occurrence="o", channel="email", template="t",
        category=Category.MARKETING, priority=1, due_at=now, timezone="UTC", status=Status.PLANNED,
    )  # fmt: skip
    assert tp.reason is None and tp.adjustments == () and tp.context == {}


def test_arguments_are_checked_like_the_constructors() -> None:
    with pytest.raises(TypeError):
        builder(Customer)()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        builder(Customer)(id="c", nickname="x")  # type: ignore[call-arg]


def test_a_class_whose_init_does_more_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Checked:
        n: int = 0
        tags: list[int] = field(default_factory=list)

        def __post_init__(self) -> None:
            assert self.n >= 0

    with pytest.raises(AssertionError):
        builder(Checked)


def test_a_positional_builder_takes_every_field_in_declared_order() -> None:
    names = [f.name for f in dataclasses.fields(PlannedTouchpoint)]
    values = [f"v{i}" for i in range(len(names))]  # distinct: a swap would show
    built = positional_builder(PlannedTouchpoint)(*values)
    assert type(built) is PlannedTouchpoint
    assert built == PlannedTouchpoint(**dict(zip(names, values, strict=True)))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        positional_builder(PlannedTouchpoint)(*values[:-1])  # no defaults
