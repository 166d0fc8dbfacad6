"""Suppressions from JSON lines, and one suppressed address from the command line.

An address is an e-mail address (stored lower-cased) or a phone number (stored in
E.164, ``+4915112345678``, see ``touchflow.data.phones``): both live in the
suppressions' ``email`` column, and the two kinds can never be the same text.
"""

from __future__ import annotations

from touchflow.data.fields import InvalidValue, Row, email_address, required_text, text_value
from touchflow.data.phones import phone_number
from touchflow.data.readers import Problems, jsonl_rows, quoted
from touchflow.errors import InputError, Problem
from touchflow.models import Suppression, SuppressionScope

SUPPRESSION_KEYS = ("email", "phone", "scope", "reason")

_SCOPES = tuple(scope.value for scope in SuppressionScope)


def suppression_address(name: str, text: str, country: str | None = None) -> str:
    """An e-mail address lower-cased, or a phone number in E.164 (a national one read in
    ``country``): what a suppression stores."""
    if "@" in text:
        return email_address(name, text).lower()
    if text.lstrip()[:1] in ("+", "(") or text.strip()[:1].isdigit():
        return phone_number(name, text, country)
    raise InvalidValue(
        f"{name} {quoted(text)} is neither an e-mail address (like name@example.com) nor a "
        "phone number (like +4915112345678)"
    )


def parse_suppression_email(text: str, *, source: str = "email", country: str | None = None) -> str:
    """A validated address, stripped and normalised as suppressions store it: an e-mail
    address lower-cased, or a phone number in E.164 (national ones read in ``country``)."""
    try:
        return suppression_address("address", required_text("email", text, "suppression"), country)
    except InvalidValue as exc:
        raise InputError([Problem(path=source, line=None, message=str(exc))]) from None


def parse_suppressions_text(
    text: str, *, display: str, country: str | None = None
) -> list[Suppression]:
    """Suppressions from JSON lines ``{"email" or "phone", "scope", "reason"}``."""
    problems = Problems(display)
    result: list[Suppression] = []
    scopes = " or ".join(quoted(scope) for scope in _SCOPES)
    for line, raw in jsonl_rows(text, problems, "suppression"):
        row = Row()
        for key in raw:
            if key not in SUPPRESSION_KEYS:
                row.add(
                    key, f"unknown key {quoted(key)}; a suppression has email (or phone), scope, "
                    "reason",
                )  # fmt: skip
        address = _address(raw, row, country)
        scope = raw.get("scope")
        if not isinstance(scope, str) or scope not in _SCOPES:
            row.add("scope", f"scope {quoted(scope)} must be {scopes}")
            scope = None
        reason = row.check(text_value, "reason", raw.get("reason"))
        for message in row.errors:
            problems.add(line, message)
        if not row.errors and address and scope:
            result.append(Suppression(email=address, scope=SuppressionScope(scope), reason=reason))
    problems.raise_if_any()
    return result


def _address(raw: dict[str, object], row: Row, country: str | None) -> str | None:
    """The line's address: ``email`` (an e-mail address or a number) or ``phone``."""
    if "email" in raw and "phone" in raw:
        row.add("phone", "a suppression has email or phone, not both: one line each")
        return None
    key = "phone" if "phone" in raw else "email"
    text = row.check(required_text, key, raw.get(key), "suppression")
    if not text:
        return None
    if key == "phone":
        return row.check(phone_number, key, text, country)
    return row.check(suppression_address, key, text, country)
