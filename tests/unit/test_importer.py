"""The importer: what it accepts, what it converts, and where it says a row is wrong."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from touchflow.data.customers import parse_customers, parse_customers_text
from touchflow.data.events import make_event, parse_events, parse_events_text
from touchflow.data.readers import MAX_PROBLEMS
from touchflow.data.suppressions import parse_suppression_email, parse_suppressions_text
from touchflow.errors import InputError, Problem
from touchflow.models import Customer, FieldType, SuppressionScope

NOW = datetime(2026, 4, 30, 12, 0, tzinfo=UTC)
ATTRS = {
    "visits": FieldType.INT,
    "spend": FieldType.FLOAT,
    "vip": FieldType.BOOL,
    "tags": FieldType.LIST,
    "first_order": FieldType.DATE,
    "last_login": FieldType.DATETIME,
}
DATA = {
    "appointment": {"starts": FieldType.DATETIME, "day": FieldType.DATE, "n": FieldType.INT},
    "inquiry": {},
    "coupon": {},
    "t": {},
}


def csv_customers(text: str, **types: FieldType) -> list[Customer]:
    return parse_customers_text(text, display="customers.csv", attribute_types=types or ATTRS)


def jsonl(*rows: Any) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)


def problems_of(call: Any, *args: Any, **kwargs: Any) -> list[tuple[int | None, str]]:
    with pytest.raises(InputError) as caught:
        call(*args, **kwargs)
    return [(p.line, p.message) for p in caught.value.problems]


def customer_problems(text: str, display: str = "customers.csv") -> list[tuple[int | None, str]]:
    return problems_of(parse_customers_text, text, display=display, attribute_types=ATTRS)


def event_problems(text: str) -> list[tuple[int | None, str]]:
    return problems_of(parse_events_text, text, display="events.jsonl", data_types=DATA)


# --- customers: good path --------------------------------------------------------


def test_csv_core_fields_are_normalised() -> None:
    text = (
        "id,email,first_name,timezone,locale,country,birthday,customer_since,consent_marketing\n"
        "c1, Ann@Example.com ,Ann,Europe/Berlin,de-de,de,1990-02-28,2020-01-15,Yes\n"
        "c2,,,,,,,,\n"
    )
    first, second = csv_customers(text)
    assert first == Customer(
        id="c1",
        email="Ann@Example.com",
        first_name="Ann",
        timezone="Europe/Berlin",
        locale="de_DE",
        country="DE",
        birthday=date(1990, 2, 28),
        customer_since=date(2020, 1, 15),
        consent_marketing=True,
    )
    # Empty cells are None; an empty consent is no consent.
    assert second == Customer(id="c2")


def test_csv_declared_attributes_are_converted_and_undeclared_kept_as_text() -> None:
    text = (
        "id,visits,spend,vip,tags,first_order,last_login,note\n"
        "c1,3,12.5,no,gold; early ;,2024-05-01,2026-04-01T08:00:00+02:00, as typed \n"
        "c2,,,,,,,\n"
    )
    first, second = csv_customers(text)
    assert first.attributes == {
        "visits": 3,
        "spend": 12.5,
        "vip": False,
        "tags": ["gold", "early"],
        "first_order": date(2024, 5, 1),
        "last_login": datetime(2026, 4, 1, 6, 0, tzinfo=UTC),
        "note": " as typed ",
    }
    assert second.attributes == dict.fromkeys(first.attributes)


def test_a_semicolon_csv_as_spreadsheets_save_it_is_read_with_semicolons() -> None:
    # A header with ';' and no ',': a comma in a cell is then just a comma, and a
    # list needs its cell quoted.
    text = 'id;email;last_name;spend;tags\nc1;ann@example.com;Smith, Jr.;12.5;"gold;early"\n'
    (customer,) = csv_customers(text)
    assert customer.email == "ann@example.com"
    assert customer.last_name == "Smith, Jr."
    assert customer.attributes == {"spend": 12.5, "tags": ["gold", "early"]}


def test_a_comma_csv_with_semicolons_in_its_cells_stays_a_comma_csv() -> None:
    (customer,) = csv_customers("id,last_name,tags\nc1,Smith; Jr.,gold;early\n")
    assert customer.last_name == "Smith; Jr."
    assert customer.attributes == {"tags": ["gold", "early"]}


def test_a_semicolon_row_with_a_cell_too_many_says_to_quote_semicolons() -> None:
    assert customer_problems("id;email\nc1;a@example.com;x\n") == [
        (2, "row has 3 cells but the header has 2; quote cells that contain semicolons")
    ]


def test_reading_reports_its_progress_in_lines_of_the_file() -> None:
    text = "id,email\n" + "".join(f"c{i},c{i}@example.com\n" for i in range(4999))
    seen: list[tuple[int, int]] = []
    customers = parse_customers_text(
        text, display="c.csv", attribute_types={}, progress=lambda *p: seen.append(p)
    )
    assert len(customers) == 4999
    assert seen == [(0, 5000), (2000, 5000), (4000, 5000), (5000, 5000)]


def test_csv_with_byte_order_mark_reads_the_id_column(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("id,email\r\nc1,a@example.com\r\n".encode("utf-8-sig"))
    [customer] = parse_customers(path, attribute_types={})
    assert customer.id == "c1"
    assert customer.email == "a@example.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("FALSE", False), ("yes", True), ("No", False), ("1", True), ("0", False)],
)
def test_consent_accepts_the_usual_spellings(text: str, expected: bool) -> None:
    [customer] = csv_customers(f"id,consent_marketing\nc1,{text}\n")
    assert customer.consent_marketing is expected


@pytest.mark.parametrize(
    ("given", "stored"),
    [("en", "en"), ("en_gb", "en_GB"), ("de-DE", "de_DE"), ("es-419", "es_419")],
)
def test_locale_is_normalised_to_underscore_form(given: str, stored: str) -> None:
    [customer] = csv_customers(f"id,locale\nc1,{given}\n")
    assert customer.locale == stored


def test_jsonl_customers_take_json_values() -> None:
    text = jsonl(
        {"id": 42, "consent_marketing": True, "tags": ["a", "b"], "vip": 1, "prefs": {"x": 1}},
        "",
        {"id": "c2", "email": None, "visits": "7"},
    )
    first, second = parse_customers_text(text, display="c.jsonl", attribute_types=ATTRS)
    assert first.id == "42"
    assert first.consent_marketing is True
    # Undeclared keys keep their JSON value, whatever it is.
    assert first.attributes == {"tags": ["a", "b"], "vip": True, "prefs": {"x": 1}}
    assert second.attributes == {"visits": 7}


# --- customers: each problem, on its line -------------------------------------------


def test_invalid_birthday_is_reported_on_its_line() -> None:
    text = "id,birthday\nc1,1990-01-01\nc2,1990-02-30\nc3,19900101\n"
    assert customer_problems(text) == [
        (3, 'birthday "1990-02-30" is not a valid date (YYYY-MM-DD)'),
        (4, 'birthday "19900101" is not a valid date (YYYY-MM-DD)'),
    ]


def test_dates_outside_1900_to_2200_are_reported_on_their_line() -> None:
    text = "id,birthday,customer_since\nc1,1900-01-01,2200-12-31\nc2,0001-01-01,9999-12-31\n"
    accepts = "lies outside the years touchflow accepts (1900-01-01 to 2200-12-31)"
    assert customer_problems(text) == [
        (3, f'birthday "0001-01-01" {accepts}'),
        (3, f'customer_since "9999-12-31" {accepts}'),
    ]


def test_event_instants_outside_1900_to_2200_are_reported_in_local_time_and_utc() -> None:
    def line(n: int, at: str, **data: Any) -> dict[str, Any]:
        return {"id": f"e{n}", "type": "signed_up", "customer": "c1", "at": at, "data": data}

    text = jsonl(
        line(1, "9999-12-31T23:00:00Z"),
        line(2, "0001-01-01T00:00:00+14:00"),  # has no UTC: astimezone overflows
        line(3, "2200-12-31T23:00:00-05:00"),  # 2201 in UTC
        line(4, "2026-05-01T10:00:00Z", when="1899-12-31T23:00:00Z"),
        line(5, "1900-01-01T00:00:00Z", when="2200-12-31T23:59:59Z"),
    )
    accepts = "lies outside the years touchflow accepts (1900-01-01 to 2200-12-31)"
    problems = problems_of(
        parse_events_text, text, display="e.jsonl",
        data_types={"signed_up": {"when": FieldType.DATETIME}},
    )  # fmt: skip
    assert problems == [
        (1, f'at "9999-12-31T23:00:00Z" {accepts}'),
        (2, f'at "0001-01-01T00:00:00+14:00" {accepts}'),
        (3, f'at "2200-12-31T23:00:00-05:00" {accepts}'),
        (4, f'data.when "1899-12-31T23:00:00Z" {accepts}'),
    ]


def test_an_event_from_the_command_line_outside_1900_to_2200_names_the_option() -> None:
    problems = problems_of(
        make_event, "signed_up", customer="c1", at="0001-01-01T00:00:00+14:00", data_json=None,
        event_id=None, data_types={"signed_up": {}}, now=NOW,
    )  # fmt: skip
    assert problems == [(None, 'at "0001-01-01T00:00:00+14:00" lies outside the years '
                               "touchflow accepts (1900-01-01 to 2200-12-31)")]  # fmt: skip


def test_unknown_time_zone_suggests_the_closest_one() -> None:
    text = "id,timezone\nc1,Europe/Berln\nc2,europe/paris\nc3,Nowhere\n"
    assert customer_problems(text) == [
        (2, 'unknown time zone "Europe/Berln" — did you mean "Europe/Berlin"?'),
        (3, 'unknown time zone "europe/paris" — did you mean "Europe/Paris"?'),
        (4, 'unknown time zone "Nowhere" (use an IANA name like "Europe/Berlin")'),
    ]


def test_missing_id_is_reported() -> None:
    assert customer_problems("id,email\nc1,a@example.com\n,b@example.com\n") == [
        (3, 'missing id: every customer needs a non-empty "id"')
    ]


def test_duplicate_id_names_both_lines() -> None:
    text = "id,email\nc1,a@example.com\nc2,\nc1,b@example.com\n"
    assert customer_problems(text) == [(4, 'id "c1" appears twice (lines 2 and 4)')]


def test_duplicate_id_is_reported_even_when_the_first_row_was_bad() -> None:
    problems = customer_problems("id,birthday\nc1,never\nc1,1990-01-01\n")
    assert (3, 'id "c1" appears twice (lines 2 and 3)') in problems


def test_csv_line_numbers_count_the_physical_lines_of_quoted_cells() -> None:
    text = (
        "id,note,birthday\n"
        'c1,"first line\nsecond line\nthird line",1990-01-01\n'  # lines 2-4
        "\n"  # line 5, blank
        'c2,"one\ntwo",1990-13-01\n'  # lines 6-7
        "c3,,1990-02-30\n"  # line 8
    )
    assert customer_problems(text) == [
        (6, 'birthday "1990-13-01" is not a valid date (YYYY-MM-DD)'),
        (8, 'birthday "1990-02-30" is not a valid date (YYYY-MM-DD)'),
    ]


def test_every_bad_value_of_a_row_is_reported() -> None:
    text = "id,email,country,locale,consent_marketing,visits\nc1,a b@x,Germany,german,maybe,3.5\n"
    assert customer_problems(text) == [
        (
            2,
            'email "a b@x" is not an e-mail address '
            '(like name@example.com: one "@", no spaces, commas or angle brackets)',
        ),
        (2, 'country "Germany" is not a two-letter country code (like "DE")'),
        (2, 'locale "german" is not a locale like "en", "de_DE" or "de-DE"'),
        (2, 'consent_marketing "maybe" is not true or false (also yes/no, 1/0)'),
        (2, 'visits "3.5" is not a whole number'),
    ]


@pytest.mark.parametrize(
    "email",
    ["a@b@c", "@example.com", "ann@", "Ann <a@x.org>", "a@x.org,b@y.org", "a@x.org\r\nBcc: b@y"],
)
def test_email_that_could_smuggle_recipients_is_rejected(email: str) -> None:
    [(line, message)] = customer_problems(jsonl({"id": "c1", "email": email}), "c.jsonl")
    assert line == 1
    assert message.startswith("email ") and "is not an e-mail address" in message


def test_row_with_the_wrong_number_of_cells() -> None:
    assert customer_problems("id,email\nc1,a@x.org,extra\n") == [
        (2, "row has 3 cells but the header has 2; quote cells that contain commas")
    ]


def test_header_without_id_column() -> None:
    [(line, message)] = customer_problems("email,name\na@x.org,Ann\n")
    assert line == 1
    assert message.startswith('the header row has no "id" column')


def test_naive_datetime_attribute_is_rejected() -> None:
    assert customer_problems("id,last_login\nc1,2026-04-01T08:00:00\n") == [
        (
            2,
            'last_login "2026-04-01T08:00:00" has no UTC offset; '
            "write e.g. 2026-05-01T10:00:00+02:00 or 2026-05-01T08:00:00Z",
        )
    ]


def test_wrong_json_type_for_a_declared_attribute() -> None:
    text = jsonl({"id": "c1", "tags": [1, 2], "visits": True, "first_order": 20240501})
    assert customer_problems(text, "c.jsonl") == [
        (1, 'tags [1, 2] is not a list of strings (in CSV: "a;b;c")'),
        (1, "visits true is not a whole number"),
        (1, "first_order 20240501 is not a valid date (YYYY-MM-DD)"),
    ]


def test_malformed_json_reports_line_and_column() -> None:
    text = jsonl({"id": "c1"}, "", '{"id": "c2",}', "[1, 2]")
    assert customer_problems(text, "c.jsonl") == [
        (3, "invalid JSON at column 13: Expecting property name enclosed in double quotes"),
        (4, "expected one JSON object {...} per customer, not a list"),
    ]


def test_an_escaped_lone_surrogate_is_a_problem_on_its_line_not_a_crash() -> None:
    text = jsonl({"id": "c1"}) + '{"id": "c2", "note": "\\ud800"}\n' + jsonl({"id": "c3"})
    text += '{"id": "c4", "note": "\\ud83d\\ude00 and \\\\ud800"}\n'  # a pair; a backslash
    assert customer_problems(text, "c.jsonl") == [
        (2, "a \\u escape names half a surrogate pair, which is no character")
    ]


def test_a_nul_character_is_a_problem_on_its_line_as_no_store_keeps_one() -> None:
    """PostgreSQL's text and jsonb refuse NUL: refused here, both stores take the same."""
    nul = "a NUL character (\\u0000) is in the text; no store keeps one"
    text = jsonl({"id": "c1"}, {"id": "c2", "first_name": "a\x00b"}, {"id": "c3"})
    text += '{"id": "c4", "note": "\\\\u0000 is only written"}\n'  # a backslash, then u0000
    assert customer_problems(text, "c.jsonl") == [(2, nul)]
    assert customer_problems("id,first_name\nc1,Ana\nc2,a\x00b\n") == [(3, nul)]
    events = jsonl({"id": "e1", "type": "order", "customer": "c1",
                    "at": "2026-11-23T08:00:00Z", "data": {"note": "x\x00"}})  # fmt: skip
    assert [line for line, _ in event_problems(events)] == [1]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_problems_on_their_line_as_json_has_no_such_number(
    constant: str,
) -> None:
    # Python's json reads them; JSON and PostgreSQL's jsonb do not.
    text = jsonl({"id": "c1"}, f'{{"id": "c2", "score": {constant}}}', {"id": "c3"})
    assert customer_problems(text, "c.jsonl") == [
        (2, f"invalid JSON: {constant} is not a JSON number")
    ]
    with pytest.raises(InputError, match=f"{constant} is not a JSON number"):
        cli_event(data_json=f'{{"code": "X1", "n": {constant}}}')


def test_an_email_address_longer_than_smtp_allows_is_a_problem_on_its_line() -> None:
    # No server takes it, and PostgreSQL's index on addresses has a size limit.
    longest = "a" * 240 + "@example.com"  # 252
    text = f"id,email\nc1,{longest}\nc2,{'a' * 250}@example.com\n"
    assert customer_problems(text) == [
        (3, "email is 262 characters long; an e-mail address has at most 254 (RFC 5321)")
    ]


def test_unicode_line_separator_inside_json_does_not_shift_line_numbers() -> None:
    text = jsonl({"id": "c1", "note": "a\u2028b"}, {"id": "c2", "birthday": "x"})
    assert customer_problems(text, "c.jsonl") == [
        (2, 'birthday "x" is not a valid date (YYYY-MM-DD)')
    ]


def test_problems_are_capped_with_a_count_of_the_rest() -> None:
    text = "id,birthday\n" + "".join(f"c{i},bad\n" for i in range(MAX_PROBLEMS + 7))
    problems = customer_problems(text)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[MAX_PROBLEMS - 1][0] == MAX_PROBLEMS + 1
    assert problems[-1] == (None, "... and 7 more")


def test_unknown_file_extension_names_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "customers.xlsx"
    with pytest.raises(InputError) as caught:
        parse_customers(path, attribute_types={})
    assert caught.value.problems == (
        Problem(
            path=str(path),
            line=None,
            message='unsupported file type ".xlsx"; customers can be read from .csv or .jsonl',
        ),
    )


def test_file_that_is_not_utf8_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(b"id,first_name\nc1,Ann\nc2,J\xfcrgen\n")
    [(line, message)] = problems_of(parse_customers, path, attribute_types={})
    assert line == 3
    assert message.startswith("not UTF-8 text")


def test_problem_paths_are_the_file_as_given(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("id,birthday\nc1,soon\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        parse_customers(path, attribute_types={})
    assert str(caught.value) == (f'{path}:2: birthday "soon" is not a valid date (YYYY-MM-DD)')


# --- events -----------------------------------------------------------------------


def test_events_are_converted_to_utc_with_declared_data_types(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        jsonl(
            {
                "id": "e1",
                "type": "appointment",
                "customer": "c1",
                "at": "2026-05-01T10:00:00+02:00",
                "data": {"starts": "2026-05-03T09:30:00+02:00", "day": "2026-05-03", "x": [1]},
            },
            {"id": "e2", "type": "inquiry", "customer": 7, "at": "2026-05-01T08:00:00Z"},
        ),
        encoding="utf-8",
    )
    first, second = parse_events(path, data_types=DATA)
    assert first.at == datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    assert first.at.utcoffset() == timedelta(0)
    assert first.data == {
        "starts": datetime(2026, 5, 3, 9, 30, tzinfo=timezone(timedelta(hours=2))),
        "day": date(2026, 5, 3),
        "x": [1],  # undeclared: unchanged
    }
    assert (second.customer_id, second.type, second.data) == ("7", "inquiry", {})


def test_naive_event_time_is_rejected_with_an_example() -> None:
    text = jsonl({"id": "e1", "type": "t", "customer": "c1", "at": "2026-05-01T10:00:00"})
    assert event_problems(text) == [
        (
            1,
            'at "2026-05-01T10:00:00" has no UTC offset; '
            "write e.g. 2026-05-01T10:00:00+02:00 or 2026-05-01T08:00:00Z",
        )
    ]


def test_event_required_keys_and_unknown_keys() -> None:
    text = jsonl({"id": "e1", "customer_id": "c1", "at": "2026-05-01T10:00:00Z"})
    assert event_problems(text) == [
        (1, 'unknown key "customer_id"; an event has id, type, customer, at, data'),
        (1, 'missing type: every event needs a non-empty "type"'),
        (1, 'missing customer: every event needs a non-empty "customer"'),
    ]


def test_wrong_type_for_a_declared_data_field() -> None:
    good = {"id": "e1", "type": "appointment", "customer": "c1", "at": "2026-05-01T10:00:00Z"}
    text = jsonl(
        good,
        {**good, "id": "e2", "data": {"starts": "2026-05-03", "n": "three", "other": "free"}},
        {**good, "id": "e3", "data": ["not", "an", "object"]},
    )
    assert event_problems(text) == [
        (
            2,
            'data.starts "2026-05-03" has no UTC offset; '
            "write e.g. 2026-05-01T10:00:00+02:00 or 2026-05-01T08:00:00Z",
        ),
        (2, 'data.n "three" is not a whole number'),
        (3, "data must be a JSON object {...}, not a list"),
    ]


def test_missing_declared_data_field_is_fine() -> None:
    text = jsonl(
        {"id": "e1", "type": "appointment", "customer": "c1", "at": "2026-05-01T10:00:00Z",
         "data": {"n": 2}}
    )  # fmt: skip
    [event] = parse_events_text(text, display="events.jsonl", data_types=DATA)
    assert event.data == {"n": 2}


def test_repeated_event_id_identical_is_kept_once_different_is_an_error() -> None:
    row = {"id": "e1", "type": "t", "customer": "c1", "at": "2026-05-01T10:00:00Z"}
    [event] = parse_events_text(jsonl(row, row), display="events.jsonl", data_types={})
    assert event.id == "e1"
    assert event_problems(jsonl(row, {**row, "customer": "c2"})) == [
        (2, 'id "e1" was used for a different event on line 1; event ids must be unique')
    ]


@pytest.mark.parametrize(
    ("first", "second"),
    [(-1, -2), (0, 2**61 - 1), ("a", "b"), ([1, 2], [2, 1]), ({"x": 1}, {"x": "1"})],
    ids=["minus-one-minus-two", "hash-modulus", "text", "list-order", "number-vs-text"],
)
def test_a_repeated_event_id_with_other_data_is_an_error_whatever_the_data(
    first: Any, second: Any
) -> None:
    # Python's hash() of -1 and -2 (or of 0 and 2**61 - 1) is the same: the check must
    # not take two different events for one repeated.
    row = {"id": "e1", "type": "t", "customer": "c1", "at": "2026-05-01T10:00:00Z"}
    text = jsonl({**row, "data": {"n": first}}, {**row, "data": {"n": second}})
    assert event_problems(text) == [
        (2, 'id "e1" was used for a different event on line 1; event ids must be unique')
    ]


def nested(depth: int, inner: object) -> object:
    value = inner
    for _ in range(depth):
        value = {"a": [value]}
    return value


def test_data_nested_as_deep_as_json_goes_is_told_apart_like_any_other() -> None:
    row = {"id": "e1", "type": "t", "customer": "c1", "at": "2026-05-01T10:00:00Z"}
    deep, other = nested(450, 1), nested(450, 2)  # 900 levels: json.loads takes about 990
    text = jsonl({**row, "data": {"n": deep}}, {**row, "data": {"n": deep}})
    assert [e.id for e in parse_events_text(text, display="events.jsonl", data_types={})] == ["e1"]
    assert event_problems(jsonl({**row, "data": {"n": deep}}, {**row, "data": {"n": other}})) == [
        (2, 'id "e1" was used for a different event on line 1; event ids must be unique')
    ]


def test_a_repeated_event_whose_numbers_are_equal_is_the_same_event() -> None:
    row = {"id": "e1", "type": "t", "customer": "c1", "at": "2026-05-01T10:00:00Z"}
    text = jsonl({**row, "data": {"n": 1}}, {**row, "data": {"n": 1.0}})
    assert [e.id for e in parse_events_text(text, display="events.jsonl", data_types={})] == ["e1"]


def test_events_must_be_jsonl(tmp_path: Path) -> None:
    [(line, message)] = problems_of(parse_events, tmp_path / "events.csv", data_types={})
    assert line is None
    assert message == 'unsupported file type ".csv"; events are read from .jsonl'


# --- make_event (the CLI) -----------------------------------------------------------


def cli_event(**overrides: Any) -> Any:
    args: dict[str, Any] = {
        "customer": "c1",
        "at": "2026-05-01T10:00:00+02:00",
        "data_json": '{"code": "X1", "n": 2}',
        "event_id": None,
        "data_types": DATA,
        "now": NOW,
    }
    args.update(overrides)
    return make_event(args.pop("type_", "coupon"), **args)


def test_cli_event_id_is_deterministic_so_a_repeat_is_idempotent() -> None:
    first = cli_event()
    assert first.id.startswith("cli-") and len(first.id) == 4 + 16
    assert cli_event().id == first.id
    # Same data written in another key order is the same event.
    assert cli_event(data_json='{"n": 2, "code": "X1"}').id == first.id
    assert cli_event(data_json='{"code": "X2", "n": 2}').id != first.id
    assert cli_event(at="2026-05-01T10:00:01+02:00").id != first.id
    assert cli_event(event_id="mine").id == "mine"


def test_cli_event_defaults_to_now_in_utc() -> None:
    event = cli_event(at=None, data_json=None)
    assert event.at == NOW
    assert event.data == {}


def test_cli_event_converts_declared_data() -> None:
    data = '{"starts": "2026-05-03T09:30:00Z", "n": "3"}'
    event = cli_event(type_="appointment", data_json=data)
    assert event.data == {"starts": datetime(2026, 5, 3, 9, 30, tzinfo=UTC), "n": 3}


def test_cli_event_problems_name_the_option() -> None:
    with pytest.raises(InputError) as caught:
        cli_event(type_="appointment", at="2026-05-01 10:00", data_json='{"n": "x"}')
    assert [str(p) for p in caught.value.problems] == [
        '--at: at "2026-05-01 10:00" has no UTC offset; '
        "write e.g. 2026-05-01T10:00:00+02:00 or 2026-05-01T08:00:00Z",
        '--data: data.n "x" is not a whole number',
    ]
    with pytest.raises(InputError) as caught:
        cli_event(data_json="{oops")
    assert [str(p) for p in caught.value.problems] == [
        "--data: invalid JSON at column 2: Expecting property name enclosed in double quotes"
    ]


# --- suppressions -------------------------------------------------------------------


def test_suppression_email_is_stripped_and_lower_cased() -> None:
    assert parse_suppression_email("  Ann@Example.COM ") == "ann@example.com"


def test_suppression_email_rejects_what_is_not_an_address() -> None:
    with pytest.raises(InputError) as caught:
        parse_suppression_email("ann at example.com", source="EMAIL")
    [problem] = caught.value.problems
    assert (problem.path, problem.line) == ("EMAIL", None)


def test_suppressions_file() -> None:
    text = jsonl(
        {"email": "Ann@Example.com", "scope": "marketing", "reason": "unsubscribed"},
        {"email": "bob@example.com", "scope": "everything"},
    )
    with pytest.raises(InputError) as caught:
        parse_suppressions_text(text, display="s.jsonl")
    assert [str(p) for p in caught.value.problems] == [
        's.jsonl:2: scope "everything" must be "marketing" or "all"'
    ]
    [suppression] = parse_suppressions_text(text.splitlines()[0], display="s.jsonl")
    assert suppression.email == "ann@example.com"
    assert suppression.scope is SuppressionScope.MARKETING
    assert suppression.reason == "unsubscribed"


def test_an_undeclared_event_type_is_refused_with_a_hint() -> None:
    text = jsonl({"id": "e1", "type": "apointment", "customer": "c1", "at": "2026-05-01T10:00:00Z"})
    assert problems_of(parse_events_text, text, display="events.jsonl", data_types=DATA) == [
        (
            1,
            'event type "apointment" is not declared under events: in touchflow.yaml'
            ' — did you mean "appointment"? (declared: appointment, coupon, inquiry, t)',
        )
    ]
