"""Customers from a ``.csv`` or ``.jsonl`` file, or from a JSON value (the HTTP interface).

Every problem in a file is collected with its physical line and raised together as
one ``InputError``, so a file with any bad row imports nothing. ``parse_customers_text``
takes a display name and the text, so a rendered sample file reports the lines of the
file the user wrote.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path, PurePath
from typing import Any

from touchflow.data.fields import (
    CORE_TEXT,
    FieldProblem,
    InvalidValue,
    Row,
    boolean,
    convert,
    identifier,
    text_value,
)
from touchflow.data.readers import Problems, Progress, csv_rows, jsonl_rows, kind, quoted, read_text
from touchflow.errors import InputError, Problem
from touchflow.models import CUSTOMER_CORE_FIELDS, Customer, FieldType

CUSTOMER_FORMATS = (".csv", ".jsonl")


def parse_customers(
    path: Path, *, attribute_types: Mapping[str, FieldType], progress: Progress | None = None
) -> list[Customer]:
    """Read customers from a ``.csv`` or ``.jsonl`` file; raise ``InputError`` on any problem.

    A ``.csv`` whose header row has ';' and no ',' is read with ';' between cells."""
    _customer_format(str(path))
    text = read_text(path)
    return parse_customers_text(
        text, display=str(path), attribute_types=attribute_types, progress=progress
    )


def parse_customers_text(
    text: str,
    *,
    display: str,
    attribute_types: Mapping[str, FieldType],
    progress: Progress | None = None,
) -> list[Customer]:
    """Like ``parse_customers``; the format comes from ``display``'s extension."""
    problems = Problems(display)
    rows: Iterator[tuple[int, Mapping[str, Any]]]
    if _customer_format(display) == ".csv":
        rows = csv_rows(text, problems, progress)
    else:
        rows = jsonl_rows(text, problems, "customer", progress)
    customers: list[Customer] = []
    first_line: dict[str, int] = {}
    for line, raw in rows:
        row = Row()
        customer = _customer(raw, row, attribute_types)
        for message in row.errors:
            problems.add(line, message)
        customer_id = customer.id if customer else _id_or_none(raw.get("id"))
        if customer_id is not None and customer_id in first_line:
            first = first_line[customer_id]
            problems.add(line, f"id {quoted(customer_id)} appears twice (lines {first} and {line})")
        elif customer_id is not None:
            first_line[customer_id] = line
            customers.extend([customer] if customer else [])
    problems.raise_if_any()
    return customers


def _id_or_none(value: Any) -> str | None:
    try:
        return text_value("id", value)
    except InvalidValue:
        return None


def _customer_format(display: str) -> str:
    suffix = PurePath(display).suffix.lower()
    if suffix not in CUSTOMER_FORMATS:
        message = (
            f"unsupported file type {quoted(suffix)}; customers can be read from .csv or .jsonl"
        )
        raise InputError([Problem(path=display, line=None, message=message)])
    return suffix


def _customer(
    raw: Mapping[str, Any], row: Row, attribute_types: Mapping[str, FieldType]
) -> Customer | None:
    core: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "id":
            continue  # checked below, once
        if key == "consent_marketing":
            core[key] = bool(row.check(boolean, key, value))
        elif key in CUSTOMER_CORE_FIELDS:
            text = row.check(text_value, key, value)
            parse = CORE_TEXT.get(key)
            core[key] = row.check(parse, key, text) if parse and text is not None else text
        else:
            attributes[key] = row.check(convert, key, value, attribute_types.get(key))
    customer_id = row.check(identifier, "id", raw.get("id"), "customer")
    if row.errors or customer_id is None:
        return None
    return Customer(id=customer_id, **core, attributes=attributes)


def customer_from_json(
    raw: Any, *, attribute_types: Mapping[str, FieldType]
) -> tuple[Customer | None, list[FieldProblem]]:
    """One customer from a JSON value, checked like a line of a customers .jsonl file."""
    if not isinstance(raw, dict):
        message = f"expected a JSON object {{...}} with the customer's fields, not {kind(raw)}"
        return None, [FieldProblem(field=None, message=message)]
    row = Row()
    customer = _customer(raw, row, attribute_types)
    return customer, row.problems()
