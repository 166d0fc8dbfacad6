"""webhook.json.j2: a template part of its own (per locale too) that a webhook rule renders
into the document's ``fields``; what is not a JSON object fails as render_error saying
where, and validate reports it (rendered with sample values) at the file."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from touchflow.channels import webhook_payload
from touchflow.errors import ProblemsError, RenderError
from touchflow.messages.build import build
from touchflow.messages.render import WEBHOOK_PARTS, TemplateSet
from touchflow.messages.template_parts import missing_files
from touchflow.models import Category, PlannedTouchpoint, Status
from touchflow.project import load_project_checked, project_warnings

CONFIG = """\
timezone: UTC
locale: en
email: {from: "Shop <shop@example.com>", postal_address: "1 Main St"}
events:
  inquiry_received: {inquiry_id: string, subject: string}
delivery:
  webhook: {url: "https://hooks.example.com/t", secret_env: TOUCHFLOW_WEBHOOK_SECRET}
"""
RULES = """\
- id: ticket
  category: marketing
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  action: {template: ticket, channel: webhook}
"""
FIELDS = """\
{
  "name": {{ customer.first_name|tojson }},
  "subject": {{ event.data.subject|tojson }},
  "tags": ["inquiry"{% if customer.consent_marketing %}, "consented"{% endif %}]
}
"""
FILES = {"ticket/webhook.json.j2": FIELDS}
CONTEXT: dict[str, Any] = {
    "customer": {"first_name": 'Zoë "Z" <O\'Neil>', "consent_marketing": True},
    "event": {"data": {"subject": "Opening hours?"}},
}
SENT_AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def write(root: Path, files: dict[str, str], rules: str = RULES) -> Path:
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "r.yaml").write_text(rules, encoding="utf-8")
    (root / "touchflow.yaml").write_text(CONFIG, encoding="utf-8")
    for name, text in files.items():
        path = root / "message_templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def templates(tmp_path: Path, files: dict[str, str]) -> TemplateSet:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return TemplateSet.load(tmp_path, display_root="message_templates")


def problems(root: Path) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        load_project_checked(root)
    return [str(p) for p in caught.value.problems]


def test_the_part_loads_per_locale_and_renders_to_an_object_with_values_as_json(
    tmp_path: Path,
) -> None:
    files = {**FILES, "ticket/de/webhook.json.j2": '{"gruss": {{ "Hallo"|tojson }}}'}
    loaded = templates(tmp_path, files)
    assert [(s.locale, s.part) for s in loaded.sources("ticket")] == [
        (None, "webhook"),
        ("de", "webhook"),
    ]
    message = loaded.render(
        "ticket", locale="en", timezone="UTC", context=CONTEXT, parts=WEBHOOK_PARTS
    )
    # Not autoescaped: tojson's JSON, read back, is the value exactly.
    assert message.fields == {
        "name": 'Zoë "Z" <O\'Neil>',
        "subject": "Opening hours?",
        "tags": ["inquiry", "consented"],
    }
    assert (message.subject, message.text, message.html) == ("", "", None)
    german = loaded.render("ticket", locale="de_AT", timezone="UTC", context=CONTEXT,
                           parts=WEBHOOK_PARTS)  # fmt: skip
    assert german.fields == {"gruss": "Hallo"}
    # An email renders without it.
    assert loaded.render("ticket", locale="en", timezone="UTC", context=CONTEXT).fields is None


def test_the_payload_gains_fields_only_when_the_template_has_them(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {**FILES, "ticket/subject.txt": "New inquiry", "ticket/body.txt": "From {{ customer.id }}"},
    )
    tp = _touchpoint()
    message = build(load_project_checked(root), tp, date=SENT_AT).message
    assert message is not None
    document = json.loads(webhook_payload.body(tp, message, sent_at=SENT_AT))
    assert document["version"] == 1
    assert document["message"] == {"subject": "New inquiry", "text": "From c1", "html": None}
    assert document["fields"]["tags"] == ["inquiry", "consented"]
    plain = dataclasses.replace(message, fields=None)
    assert "fields" not in webhook_payload.payload(tp, plain, sent_at=SENT_AT)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # A name with a quote in it, printed bare, ends its JSON string early.
        ('{"name": "{{ customer.first_name }}"}',
         "is not JSON: Expecting ',' delimiter at line 1, column 16 of the rendered text; "
         "print values with |tojson"),
        ('{\n  "a": 1,\n}',
         "is not JSON: Expecting property name enclosed in double quotes at line 3, column 1 "
         "of the rendered text"),
        ("[1, 2]", "gives an array, not a JSON object"),
        ('{{ "x"|tojson }}', "gives a string, not a JSON object"),
        ("null", "gives null, not a JSON object"),
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": 1e999}', "1e999 is too large"),
        ('{"a": ' + "[" * 64 + "]" * 64 + "}", "JSON nested more than 64 deep"),
        ('{"a": ' + "[" * 5000 + "]" * 5000 + "}", "JSON nested more than 64 deep"),
    ],
)  # fmt: skip
def test_what_is_not_a_json_object_is_a_render_error_saying_where(
    tmp_path: Path, text: str, words: str
) -> None:
    loaded = templates(tmp_path, {"ticket/webhook.json.j2": text})
    with pytest.raises(RenderError) as caught:
        loaded.render("ticket", locale="en", timezone="UTC", context=CONTEXT, parts=WEBHOOK_PARTS)
    assert str(caught.value).startswith("message_templates/ticket/webhook.json.j2: webhook.json.j2")
    assert words in str(caught.value)


def test_a_touchpoint_whose_fields_are_not_json_is_held_as_render_error(tmp_path: Path) -> None:
    root = write(tmp_path, FILES)
    project = load_project_checked(root)
    broken = write(tmp_path / "broken", {"ticket/webhook.json.j2": "[1]"})
    # Loaded without validate (which would refuse it): the send path must not crash.
    bad = TemplateSet.load(broken / "message_templates", display_root="message_templates")

    built = build(dataclasses.replace(project, templates=bad), _touchpoint(), date=SENT_AT)
    assert built.touchpoint.reason is not None
    assert built.touchpoint.reason.value == "render_error"
    assert "webhook.json.j2 gives an array" in (built.touchpoint.detail or "")
    good = build(project, _touchpoint(), date=SENT_AT)
    assert good.message is not None and good.message.fields is not None


def test_a_webhook_rule_needs_the_email_parts_or_webhook_json(tmp_path: Path) -> None:
    loaded = templates(
        tmp_path,
        {"hook/webhook.json.j2": "{}", "letter/subject.txt": "a", "letter/body.txt": "b",
         "text/sms.txt": "hi"},
    )  # fmt: skip
    assert missing_files(loaded, "hook", ["webhook"]) == []
    assert missing_files(loaded, "letter", ["webhook"]) == []
    assert missing_files(loaded, "text", ["webhook"]) == [
        "webhook needs subject.txt and body.txt, or webhook.json.j2"
    ]
    assert missing_files(loaded, "hook", ["email"]) == ["email needs subject.txt and body.txt"]


def test_validate_accepts_good_fields_without_warnings(tmp_path: Path) -> None:
    root = write(tmp_path, FILES)
    # Marketing, but a webhook's fields go to the business's system: no unsubscribe warning.
    assert [str(w) for w in project_warnings(load_project_checked(root))] == []


def test_validate_reports_fields_that_give_no_json_object_at_the_file(tmp_path: Path) -> None:
    files = {
        **FILES,
        "ticket/de/webhook.json.j2": '{"name": "{{ customer.first_name }}", }',
    }
    assert problems(write(tmp_path, files)) == [
        "message_templates/ticket/de/webhook.json.j2: template 'ticket' (rendered with sample "
        "values): webhook.json.j2 is not JSON: Expecting property name enclosed in double "
        "quotes at line 1, column 23 of the rendered text; print values with |tojson, e.g. "
        "{{ customer.first_name|tojson }}"
    ]


def test_validate_does_not_judge_fields_the_sample_values_cannot_render(tmp_path: Path) -> None:
    # The sample subject is ten letters: |date refuses them, so the output is not guessed
    # (it would be bad JSON: the closing brace is missing).
    files = {"ticket/webhook.json.j2": '{"on": {{ event.data.subject|date|tojson }}'}
    project = load_project_checked(write(tmp_path, files))
    with pytest.raises(RenderError, match="date"):
        project.templates.render(
            "ticket", locale="en", timezone="UTC", context=CONTEXT, parts=WEBHOOK_PARTS
        )


def _touchpoint() -> PlannedTouchpoint:
    return PlannedTouchpoint(
        key="ticket:c1:q-1:0",
        rule_id="ticket",
        customer_id="c1",
        occurrence="q-1",
        category=Category.MARKETING,
        priority=0,
        template="ticket",
        due_at=SENT_AT,
        timezone="UTC",
        status=Status.PLANNED,
        channel="webhook",
        context={**CONTEXT, "customer": {**CONTEXT["customer"], "id": "c1", "locale": "en"}},
    )
