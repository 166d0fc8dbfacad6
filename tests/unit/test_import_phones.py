"""Phone numbers and consent to texts on import: E.164 out, a file:line error for a bad
number, and suppressions of numbers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from touchflow.data.customers import customer_from_json, parse_customers_text
from touchflow.data.suppressions import parse_suppression_email, parse_suppressions_text
from touchflow.errors import InputError
from touchflow.models import SuppressionScope


def customers(text: str, country: str | None = "DE") -> list[Any]:
    return parse_customers_text(text, display="c.csv", attribute_types={}, country=country)


def problems(text: str, country: str | None = "DE") -> list[str]:
    with pytest.raises(InputError) as caught:
        customers(text, country)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    "written",
    [
        "+49 151 12345678",
        "+4915112345678",
        "0151 12345678",
        "(0151) 123-456-78",
        "0049 151 12345678",
    ],
)
def test_a_number_is_stored_in_e164(written: str) -> None:
    [customer] = customers(f'id,phone\nc1,"{written}"\n')
    assert customer.phone == "+4915112345678"


def test_a_national_number_is_read_in_the_customer_s_country_before_the_project_s() -> None:
    text = "id,country,phone\nus,US,(201) 555-0123\nde,,030 1234567\n"
    us, de = customers(text, country="DE")
    assert (us.phone, de.phone) == ("+12015550123", "+49301234567")


def test_a_bad_number_is_an_error_at_its_line_like_any_other_field() -> None:
    text = "id,phone,email\nc1,+4915112345678,a@x.org\nc2,12,b@x.org\nc3,call me,c@x.org\n"
    assert problems(text) == [
        'c.csv:3: phone "12" is not a valid phone number in DE: write it in international '
        "form, like +4915112345678",
        'c.csv:4: phone "call me" is not a phone number: write it in international form, '
        "like +4915112345678",
    ]


def test_a_national_number_without_any_country_cannot_be_read() -> None:
    [message] = problems("id,phone\nc1,0151 12345678\n", country=None)
    assert message.startswith('c.csv:2: phone "0151 12345678" is in national form and there')
    [ok] = customers("id,phone\nc1,+4915112345678\n", country=None)
    assert ok.phone == "+4915112345678"


def test_a_number_no_country_has_is_refused() -> None:
    [message] = problems("id,phone\nc1,+49 0000\n")
    assert "is not a valid phone number" in message


def test_consent_sms_is_read_like_consent_marketing() -> None:
    yes, no, unset = customers("id,consent_marketing,consent_sms\nc1,no,yes\nc2,1,0\nc3,,\n")
    assert [(c.consent_marketing, c.consent_sms) for c in (yes, no, unset)] == [
        (False, True),
        (True, False),
        (False, False),
    ]
    assert problems("id,consent_sms\nc1,maybe\n") == [
        'c.csv:2: consent_sms "maybe" is not true or false (also yes/no, 1/0)'
    ]


def test_the_http_customer_is_checked_the_same_way() -> None:
    customer, found = customer_from_json(
        {"id": "c1", "phone": "0151 12345678", "consent_sms": True},
        attribute_types={},
        country="DE",
    )
    assert found == [] and customer is not None
    assert (customer.phone, customer.consent_sms) == ("+4915112345678", True)
    _, bad = customer_from_json({"id": "c1", "phone": "12"}, attribute_types={}, country="DE")
    assert [(p.field, p.message.split(":")[0]) for p in bad] == [
        ("phone", 'phone "12" is not a valid phone number in DE')
    ]


def test_a_suppressed_number_is_normalised() -> None:
    assert parse_suppression_email("0151 12345678", country="DE") == "+4915112345678"
    assert parse_suppression_email("+49 151 12345678") == "+4915112345678"
    assert parse_suppression_email(" Ann@Example.com ") == "ann@example.com"
    with pytest.raises(InputError) as caught:
        parse_suppression_email("ann", source="ADDRESS")
    [problem] = caught.value.problems
    assert problem.path == "ADDRESS" and "is neither an e-mail address" in problem.message


def test_a_suppressions_file_holds_numbers_under_email_or_phone() -> None:
    rows = [
        {"email": "+49 151 12345678", "scope": "all", "reason": "STOP"},
        {"phone": "030 1234567", "scope": "marketing"},
        {"email": "A@x.org", "scope": "all"},
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    found = parse_suppressions_text(text, display="s.jsonl", country="DE")
    assert [(s.email, s.scope) for s in found] == [
        ("+4915112345678", SuppressionScope.ALL),
        ("+49301234567", SuppressionScope.MARKETING),
        ("a@x.org", SuppressionScope.ALL),
    ]
    bad = json.dumps({"email": "a@x.org", "phone": "+4915112345678", "scope": "all"}) + "\n"
    bad += json.dumps({"phone": "nope", "scope": "all"}) + "\n"
    with pytest.raises(InputError) as caught:
        parse_suppressions_text(bad, display="s.jsonl", country="DE")
    assert [(p.line, p.message.split(":")[0]) for p in caught.value.problems] == [
        (1, "a suppression has email or phone, not both"),
        (2, 'phone "nope" is not a phone number'),
    ]


def test_a_number_with_the_00_prefix_needs_no_country() -> None:
    [customer] = customers("id,phone\nc1,0049 151 12345678\n", country=None)
    assert customer.phone == "+4915112345678"
