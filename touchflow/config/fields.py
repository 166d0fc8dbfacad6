"""The ``customer_attributes:`` and ``events:`` sections of touchflow.yaml: declared field types."""

from __future__ import annotations

from typing import Any

from touchflow.checks import Collector, did_you_mean
from touchflow.models import FieldType
from touchflow.yamlload import LineDict


def parse_customer_attributes(value: Any, line: int, out: Collector) -> dict[str, FieldType]:
    return _read_types(value, line, out, what="customer_attributes")


def _read_types(value: Any, line: int, out: Collector, *, what: str) -> dict[str, FieldType]:
    doc = out.mapping(value, line, what=what)
    if doc is None:
        return {}
    types: dict[str, FieldType] = {}
    names = [t.value for t in FieldType]
    for key, raw in doc.items():
        if raw in names:
            types[key] = FieldType(raw)
        else:
            out.add(
                doc.line_of(key),
                f"{what}.{key}: unknown type {raw!r}"
                f"{did_you_mean(str(raw), names)} (types: {', '.join(names)})",
            )
    return types


def parse_event_types(value: Any, line: int, out: Collector) -> dict[str, dict[str, FieldType]]:
    doc = out.mapping(value, line, what="events")
    if doc is None:
        return {}
    return {
        name: _read_types(fields or LineDict(), doc.line_of(name), out, what=f"events.{name}")
        for name, fields in doc.items()
    }
