"""Ids are identifiers: every import door refuses one with a line break or a control
character, at its line or field, and takes the forms in use (c-001, e-mails, UUIDs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from touchflow.data.customers import customer_from_json, parse_customers_text
from touchflow.data.events import events_from_json, make_event, parse_events_text
from touchflow.errors import InputError
from touchflow.ids import MAX_ID_CHARS, id_problem, one_line
from touchflow.models import FieldType

NOW = datetime(2026, 4, 30, 12, 0, tzinfo=UTC)
FORGED = "c1\n2026-12-06T09:00:00Z WARNING fake"
TYPES: dict[str, dict[str, FieldType]] = {"booked": {}}

GOOD_IDS = [
    "c-001",
    "c0000042",
    "ana@example.com",
    "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "Kunde 17",
    "Müller-Lüdenscheid",
    "顧客/42",
    "a" * MAX_ID_CHARS,
]
BAD_IDS = [
    pytest.param("c1\nx", "U+000A (line feed) at character 3", id="LF"),
    pytest.param("c1\rx", "U+000D (carriage return)", id="CR"),
    pytest.param("c1\x00", "U+0000 (NUL)", id="NUL"),
    pytest.param("c1\x1b[31m", "U+001B", id="ESC"),
    pytest.param("c1\x85x", "U+0085 (next line, NEL)", id="NEL"),
    pytest.param("c1\u2028x", "U+2028 (line separator)", id="LS"),
    pytest.param("c1\u2029x", "U+2029 (paragraph separator)", id="PS"),
    pytest.param("c1\u202ex", "U+202E (right-to-left override)", id="bidi"),
    pytest.param("c1\tx", "U+0009 (tab)", id="TAB"),
    pytest.param("c1\u00a0x", "U+00A0 (no-break space)", id="NBSP"),
    pytest.param("a" * (MAX_ID_CHARS + 1), f"at most {MAX_ID_CHARS} allowed", id="long"),
]


@pytest.mark.parametrize("good", GOOD_IDS)
def test_the_id_forms_in_use_are_ids(good: str) -> None:
    assert id_problem(good) is None


@pytest.mark.parametrize(("bad", "says"), BAD_IDS)
def test_a_control_character_line_break_or_odd_space_is_not(bad: str, says: str) -> None:
    problem = id_problem(bad)
    assert problem is not None and says in problem


def jsonl(*rows: dict[str, Any]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def messages(call: Any, *args: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(InputError) as caught:
        call(*args, **kwargs)
    return [str(p) for p in caught.value.problems]


def test_a_customers_csv_refuses_a_forged_id_at_its_line_and_imports_nothing() -> None:
    text = 'id,email\nc-001,ana@example.com\n"c1\n2026-12-06T09:00:00Z WARNING fake",b@x.org\n'
    assert messages(parse_customers_text, text, display="customers.csv", attribute_types={}) == [
        'customers.csv:3: id "c1\\n2026-12-06T09:00:00Z WARNING fake" holds U+000A (line feed) '
        "at character 3; an id may hold letters, digits, punctuation and symbols of any "
        "script, and plain spaces inside; no control characters or line breaks, "
        f"at most {MAX_ID_CHARS} characters"
    ]


def test_a_customers_jsonl_shows_a_unicode_line_separator_as_an_escape() -> None:
    text = jsonl({"id": "c-001"}, {"id": "c\u2028x"})
    [problem] = messages(parse_customers_text, text, display="c.jsonl", attribute_types={})
    assert problem.startswith('c.jsonl:2: id "c\\u2028x" holds U+2028 (line separator)')
    assert problem.isprintable()


def test_an_events_file_checks_the_event_id_its_type_and_its_customer() -> None:
    # (A NUL would be refused for the whole line first: test_importer.py.)
    row = {"id": "e\x011", "type": "seen\r\n", "customer": FORGED, "at": "2026-05-01T10:00:00Z"}
    problems = messages(parse_events_text, jsonl(row), display="events.jsonl", data_types={})
    assert [p.split(" holds ")[0] for p in problems] == [
        'events.jsonl:1: id "e\\u00011"',
        'events.jsonl:1: customer "c1\\n2026-12-06T09:00:00Z WARNING fake"',
    ]  # "seen\r\n" is stripped at the ends like any value: it is the type "seen"


def test_surrounding_whitespace_is_stripped_as_before_not_refused() -> None:
    [customer] = parse_customers_text(
        jsonl({"id": " c-001\n"}), display="c.jsonl", attribute_types={}
    )
    assert customer.id == "c-001"


@pytest.mark.parametrize(
    ("option", "args"),
    [
        ("TYPE", {"type_": "booked\x00"}),
        ("--customer", {"customer": FORGED}),
        ("--id", {"event_id": "e\u20281"}),
    ],
)
def test_touchflow_event_refuses_a_bad_id_naming_the_option(option: str, args: Any) -> None:
    values: dict[str, Any] = {"type_": "booked", "customer": "c1", "event_id": None, **args}
    problems = messages(
        make_event,
        values.pop("type_"),
        at=None,
        data_json=None,
        data_types={},
        now=NOW,
        **values,
    )
    assert len(problems) == 1 and problems[0].startswith(f"{option}: ")
    assert " holds U+" in problems[0]


def test_touchflow_event_takes_a_given_id_stripped() -> None:
    event = make_event(
        "booked", customer="c1", at=None, data_json=None, event_id=" e-1 ", data_types={}, now=NOW
    )
    assert event.id == "e-1"


def test_json_values_name_the_field_of_a_bad_id() -> None:
    _, problems = customer_from_json({"id": FORGED}, attribute_types={})
    assert [(p.field, "U+000A" in p.message) for p in problems] == [("id", True)]
    item = {"id": "e1", "type": "booked", "customer": "c\x85x", "at": "2026-05-01T10:00:00Z"}
    _, problems = events_from_json([item], data_types=TYPES)
    assert [(p.index, p.field) for p in problems] == [(0, "customer")]


def test_one_line_escapes_what_could_start_a_line_and_keeps_the_rest() -> None:
    assert one_line(FORGED) == "c1\\n2026-12-06T09:00:00Z WARNING fake"
    assert one_line("a\r\nb\x00c\x85d\u2028e\u2029f\u202eg\tz") == (
        "a\\r\\nb\\x00c\\x85d\\u2028e\\u2029f\\u202eg\\tz"
    )
    assert one_line("Müller 10\u00a0€ 顧客") == "Müller 10\u00a0€ 顧客"
    assert one_line("\ud800") == "\\ud800"
