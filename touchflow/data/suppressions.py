"""Suppressions from JSON lines, and one suppressed address from the command line."""

from __future__ import annotations

from touchflow.data.fields import InvalidValue, Row, email_address, required_text, text_value
from touchflow.data.readers import Problems, jsonl_rows, quoted
from touchflow.errors import InputError, Problem
from touchflow.models import Suppression, SuppressionScope

SUPPRESSION_KEYS = ("email", "scope", "reason")

_SCOPES = tuple(scope.value for scope in SuppressionScope)


def parse_suppression_email(text: str, *, source: str = "email") -> str:
    """A validated address, stripped and lower-cased as suppressions store it."""
    try:
        return email_address("email", required_text("email", text, "suppression")).lower()
    except InvalidValue as exc:
        raise InputError([Problem(path=source, line=None, message=str(exc))]) from None


def parse_suppressions_text(text: str, *, display: str) -> list[Suppression]:
    """Suppressions from JSON lines ``{"email", "scope", "reason"}``."""
    problems = Problems(display)
    result: list[Suppression] = []
    scopes = " or ".join(quoted(scope) for scope in _SCOPES)
    for line, raw in jsonl_rows(text, problems, "suppression"):
        row = Row()
        for key in raw:
            if key not in SUPPRESSION_KEYS:
                row.add(key, f"unknown key {quoted(key)}; a suppression has email, scope, reason")
        email = row.check(required_text, "email", raw.get("email"), "suppression")
        email = row.check(email_address, "email", email) if email else None
        scope = raw.get("scope")
        if not isinstance(scope, str) or scope not in _SCOPES:
            row.add("scope", f"scope {quoted(scope)} must be {scopes}")
            scope = None
        reason = row.check(text_value, "reason", raw.get("reason"))
        for message in row.errors:
            problems.add(line, message)
        if not row.errors and email and scope:
            result.append(
                Suppression(email=email.lower(), scope=SuppressionScope(scope), reason=reason)
            )
    problems.raise_if_any()
    return result
