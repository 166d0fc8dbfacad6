"""X-Twilio-Signature: Twilio's own test vectors, and every change that must make it fail.

The vectors are those of twilio-python's tests/unit/test_request_validator.py
(auth token "12345"), computed by Twilio's RequestValidator.
"""

from __future__ import annotations

import pytest

from touchflow.http.twilio_signature import is_valid, signature, url_forms

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
    ("Caller", "+14158675309"),
]
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_twilios_vector() -> None:
    assert signature(TOKEN, URL, PARAMS) == EXPECTED
    assert is_valid(TOKEN, URL, PARAMS, EXPECTED)


def test_the_order_parameters_come_in_does_not_matter() -> None:
    assert is_valid(TOKEN, URL, list(reversed(PARAMS)), EXPECTED)


def test_a_repeated_name_signs_each_distinct_value_once_sorted() -> None:
    # Twilio's vector for duplicates: keys sorted, values sorted, a repeat removed.
    params = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
    assert signature(TOKEN, URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_the_default_port_may_be_signed_or_not() -> None:
    # Twilio's vectors: the same request signed over the URL with :443, and over http with :80.
    assert is_valid(TOKEN, URL, PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w=")
    assert is_valid(TOKEN, URL.replace("https", "http"), PARAMS, "0ZXoZLH/DfblKGATFgpif+LLRf4=")
    with_port = URL.replace(".com", ".com:443")
    assert is_valid(TOKEN, with_port, PARAMS, EXPECTED)


def test_url_forms() -> None:
    assert url_forms("https://a.example/x") == ["https://a.example/x", "https://a.example:443/x"]
    assert url_forms("http://a.example:80/x?y=1") == [
        "http://a.example:80/x?y=1",
        "http://a.example/x?y=1",
    ]
    assert url_forms("https://a.example:8443/x") == ["https://a.example:8443/x"]
    assert url_forms("https://[::1]:443/x") == ["https://[::1]:443/x", "https://[::1]/x"]
    assert url_forms("https://a.example:x/y") == ["https://a.example:x/y"]


@pytest.mark.parametrize(
    ("token", "url", "params"),
    [
        pytest.param("12346", URL, PARAMS, id="another token"),
        pytest.param(TOKEN, URL + "&baz=3", PARAMS, id="another url"),
        pytest.param(TOKEN, URL.replace("myapp.php", "myapp.php/"), PARAMS, id="trailing slash"),
        pytest.param(TOKEN, URL.replace("https", "http"), PARAMS, id="another scheme"),
        pytest.param(TOKEN, URL.replace(".com", ".com:8443"), PARAMS, id="another port"),
        pytest.param(TOKEN, URL, [*PARAMS[:-1], ("Caller", "+14158675308")], id="a value"),
        pytest.param(TOKEN, URL, [*PARAMS[:-1], ("caller", "+14158675309")], id="a name's case"),
        pytest.param(TOKEN, URL, PARAMS[:-1], id="a parameter left out"),
        pytest.param(TOKEN, URL, [*PARAMS, ("Body", "")], id="a blank parameter added"),
    ],
)
def test_any_change_fails(token: str, url: str, params: list[tuple[str, str]]) -> None:
    assert not is_valid(token, url, params, EXPECTED)


@pytest.mark.parametrize("given", [None, "", " ", EXPECTED[:-1], EXPECTED.lower(), "é" * 28])
def test_a_missing_or_wrong_header_fails(given: str | None) -> None:
    assert not is_valid(TOKEN, URL, PARAMS, given)


def test_blank_values_are_signed() -> None:
    with_blank = [*PARAMS, ("Body", "")]
    assert signature(TOKEN, URL, with_blank) != EXPECTED
    assert is_valid(TOKEN, URL, with_blank, signature(TOKEN, URL, with_blank))


def test_unicode_is_signed_as_utf_8() -> None:
    params = [("Body", "Stopp 😀 ü"), ("From", "+4915112345678")]
    signed = signature(TOKEN, URL, params)
    assert is_valid(TOKEN, URL, params, signed)
    assert not is_valid(TOKEN, URL, [("Body", "Stopp 😀 u"), params[1]], signed)
