"""The reference docs quote lists the code owns: they must list exactly what the code has."""

from __future__ import annotations

import re
from pathlib import Path

from touchflow.models import HoldReason
from touchflow.rules.loader import RULE_KEYS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _table_codes(text: str, heading: str) -> list[str]:
    """The first column's `code` of each row of the first table after ``heading``."""
    section = text.split(heading, 1)[1]
    rows: list[str] = []
    for line in section.splitlines()[1:]:
        if rows and not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        codes = [c for c in cells if re.fullmatch(r"`[a-z_]+`", c)]
        if line.startswith("|") and codes:
            rows.append(codes[0].strip("`"))
    return rows


def test_rules_md_lists_every_hold_reason_in_the_order_they_are_decided() -> None:
    rules = _table_codes((DOCS / "rules.md").read_text(), "### 7.1")
    assert sorted(rules) == sorted(r.value for r in HoldReason)


def test_preview_json_md_lists_the_hold_reasons_in_the_order_rules_md_gives() -> None:
    rules = _table_codes((DOCS / "rules.md").read_text(), "### 7.1")
    json_doc = _table_codes((DOCS / "preview-json.md").read_text(), "### `reason`")
    assert json_doc == rules


def test_the_unknown_key_example_in_rules_md_lists_every_rule_key() -> None:
    text = (DOCS / "rules.md").read_text()
    quoted = re.search(r"unknown key 'tigger' in a rule .*\(allowed: ([^)]*)\)", text)
    assert quoted is not None
    assert tuple(quoted.group(1).split(", ")) == RULE_KEYS


def test_no_doc_says_undeclared_event_types_go_unchecked() -> None:
    # The importer, `touchflow event` and HTTP refuse them once `events:` declares any.
    for name in ("cli.md", "configuration.md"):
        text = " ".join((DOCS / name).read_text().split())
        assert "does not refuse event types" not in text, name
        assert "The event type is not checked" not in text, name
