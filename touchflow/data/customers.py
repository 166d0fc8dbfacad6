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
from touchflow.data.phones import phone_number
from touchflow.data.readers import Problems, Progress, Source, csv_rows, jsonl_rows, kind, quoted
from touchflow.errors import InputError, Problem
from touchflow.models import CUSTOMER_CORE_FIELDS, Customer, FieldType

CUSTOMER_FORMATS = (".csv", ".jsonl")
_CONSENTS = ("consent_marketing", "consent_sms")  # per channel, each true or false


# Customers a chunk of a file holds: what an import keeps in memory besides the ids.
CHUNK = 10_000


def parse_customers(
    path: Path,
    *,
    attribute_types: Mapping[str, FieldType],
    progress: Progress | None = None,
    country: str | None = None,
) -> list[Customer]:
    """Read customers from a ``.csv`` or ``.jsonl`` file; raise ``InputError`` on any problem.

    A ``.csv`` whose header row has ';' and no ',' is read with ';' between cells.
    ``country`` (the project's) reads a phone number in national form of a customer
    without a country of their own."""
    reader = CustomerReader(
        Source(display=str(path), path=path),
        attribute_types=attribute_types,
        progress=progress,
        country=country,
    )
    return reader.all()


def parse_customers_text(
    text: str,
    *,
    display: str,
    attribute_types: Mapping[str, FieldType],
    progress: Progress | None = None,
    country: str | None = None,
) -> list[Customer]:
    """Like ``parse_customers``; the format comes from ``display``'s extension."""
    source = Source(display=display, text=text)
    reader = CustomerReader(
        source, attribute_types=attribute_types, progress=progress, country=country
    )
    return reader.all()


class CustomerReader:
    """The customers of a file in chunks of up to ``CHUNK``, read as they are used.

    Problems are collected in ``problems`` while reading (a row with one is left out
    of the chunks); ``raise_if_any`` raises them once the file is read, so a caller
    that wrote the chunks as they came can still undo it all. ``ids`` holds each id
    read, with its first line: what duplicates are found by."""

    def __init__(
        self,
        source: Source,
        *,
        attribute_types: Mapping[str, FieldType],
        progress: Progress | None = None,
        chunk: int = CHUNK,
        country: str | None = None,
    ) -> None:
        self._format = _customer_format(source.display)
        self.source = source
        self.problems = Problems(source.display)
        self.ids: dict[str, int] = {}
        self._types = attribute_types
        self._progress = progress
        self._chunk = chunk
        self._country = country  # the project's: see touchflow.data.phones

    def all(self) -> list[Customer]:
        customers = [c for chunk in self.chunks() for c in chunk]
        self.raise_if_any()
        return customers

    def raise_if_any(self) -> None:
        self.problems.raise_if_any()

    def chunks(self) -> Iterator[list[Customer]]:
        chunk: list[Customer] = []
        for line, raw in self._rows():
            customer = self._checked(line, raw)
            if customer is not None:
                chunk.append(customer)
                if len(chunk) >= self._chunk:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def _rows(self) -> Iterator[tuple[int, Mapping[str, Any]]]:
        if self._format == ".csv":
            return csv_rows(self.source, self.problems, self._progress)
        return jsonl_rows(self.source, self.problems, "customer", self._progress)

    def _checked(self, line: int, raw: Mapping[str, Any]) -> Customer | None:
        """The row's customer, or None (its problems added, or its id seen before)."""
        row = Row()
        customer = _customer(raw, row, self._types, self._country)
        for message in row.errors:
            self.problems.add(line, message)
        customer_id = customer.id if customer else _id_or_none(raw.get("id"))
        if customer_id is None:
            return None
        first = self.ids.setdefault(customer_id, line)
        if first != line:
            message = f"id {quoted(customer_id)} appears twice (lines {first} and {line})"
            self.problems.add(line, message)
            return None
        return customer


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
    raw: Mapping[str, Any],
    row: Row,
    attribute_types: Mapping[str, FieldType],
    country: str | None = None,
) -> Customer | None:
    core: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "id":
            continue  # checked below, once
        if key in _CONSENTS:
            core[key] = bool(row.check(boolean, key, value))
        elif key == "phone":
            core[key] = row.check(text_value, key, value)
        elif key in CUSTOMER_CORE_FIELDS:
            text = row.check(text_value, key, value)
            parse = CORE_TEXT.get(key)
            core[key] = row.check(parse, key, text) if parse and text is not None else text
        else:
            attributes[key] = row.check(convert, key, value, attribute_types.get(key))
    if core.get("phone") is not None:  # read in their country, once that is known
        core["phone"] = row.check(
            phone_number, "phone", core["phone"], core.get("country") or country
        )
    customer_id = row.check(identifier, "id", raw.get("id"), "customer")
    if row.errors or customer_id is None:
        return None
    return Customer(id=customer_id, **core, attributes=attributes)


def customer_from_json(
    raw: Any, *, attribute_types: Mapping[str, FieldType], country: str | None = None
) -> tuple[Customer | None, list[FieldProblem]]:
    """One customer from a JSON value, checked like a line of a customers .jsonl file."""
    if not isinstance(raw, dict):
        message = f"expected a JSON object {{...}} with the customer's fields, not {kind(raw)}"
        return None, [FieldProblem(field=None, message=message)]
    row = Row()
    customer = _customer(raw, row, attribute_types, country)
    return customer, row.problems()
