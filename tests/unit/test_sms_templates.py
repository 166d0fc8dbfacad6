"""sms.txt: a template part of its own, rendered alone for a text; validate checks a rule's
template has what its channel needs (at the rule's line), and warns about a text too
many segments long (rendered with sample values) or a marketing text without STOP."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from touchflow.errors import ProblemsError
from touchflow.messages.render import SMS_PARTS, TemplateSet, sms_text
from touchflow.messages.template_parts import missing_files
from touchflow.project import load_project_checked, project_warnings

CONFIG = """\
timezone: UTC
email: {postal_address: "1 Main St"}
events:
  appointment_booked: {appointment_id: string, starts_at: datetime, service: string}
delivery:
  sms: {provider: folder, max_segments: 1}
"""
RULES = """\
- id: reminder
  category: transactional
  trigger: {event: appointment_booked, occurrence: event.data.appointment_id}
  action: {template: reminder, channel: sms}

- id: promo
  category: marketing
  trigger: {cron: "0 10 1 * *"}
  action: {template: promo, channel: sms}

- id: letter
  category: transactional
  trigger: {cron: "0 10 1 * *"}
  action: {template: letter}
"""
QUOTE = "\N{RIGHT SINGLE QUOTATION MARK}"
REMINDER = "Hi {{ customer.first_name }}, see you {{ event.data.starts_at|date }}.\n"
FILES = {
    "reminder/sms.txt": REMINDER,
    "promo/sms.txt": "{{ vars.shop }}: 20% off this week. Reply STOP to opt out.\n",
    "letter/subject.txt": "Hello",
    "letter/body.txt": "Hello {{ customer.first_name }}",
}


def write(root: Path, files: dict[str, str], rules: str = RULES) -> Path:
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "r.yaml").write_text(rules, encoding="utf-8")
    (root / "touchflow.yaml").write_text(CONFIG + "vars: {shop: Lumen}\n", encoding="utf-8")
    for name, text in files.items():
        path = root / "message_templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def warnings(root: Path) -> list[str]:
    return [str(w) for w in project_warnings(load_project_checked(root))]


def problems(root: Path) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        load_project_checked(root)
    return [str(p) for p in caught.value.problems]


def test_an_sms_only_template_loads_and_validates_without_warnings(tmp_path: Path) -> None:
    root = write(tmp_path, FILES)
    assert warnings(root) == []


def test_a_rule_whose_template_lacks_its_channel_s_part_is_a_problem_at_its_line(
    tmp_path: Path,
) -> None:
    files = {**FILES, "letter/sms.txt": "x"}
    del files["reminder/sms.txt"]
    files["reminder/subject.txt"], files["reminder/body.txt"] = "Reminder", REMINDER
    rules = RULES.replace("{template: letter}", "{template: promo}")
    assert problems(write(tmp_path, files, rules)) == [
        "rules/r.yaml:1: rule 'reminder' uses template 'reminder', which cannot be sent on its "
        "channel: sms needs sms.txt in message_templates/reminder/",
        "rules/r.yaml:11: rule 'letter' uses template 'promo', which cannot be sent on its "
        "channel: email needs subject.txt and body.txt in message_templates/promo/",
    ]


def test_a_template_with_half_an_email_or_nothing_does_not_load(tmp_path: Path) -> None:
    files = {**FILES, "half/subject.txt": "Hi", "empty/de/sms.txt": "Hallo"}
    found = problems(write(tmp_path, files))
    assert "message_templates/half: missing body.txt: an email needs subject.txt and body.txt" in (
        found
    )
    assert any(p.startswith("message_templates/empty: empty template: it holds") for p in found)


def test_every_channel_of_a_list_is_checked(tmp_path: Path) -> None:
    templates = TemplateSet.load(write(tmp_path, FILES) / "message_templates")
    assert missing_files(templates, "reminder", ["sms", "email", "sms"]) == [
        "email needs subject.txt and body.txt"
    ]
    assert missing_files(templates, "letter", ["webhook", "sms"]) == ["sms needs sms.txt"]
    assert missing_files(templates, "nope", ["sms"]) == []  # reported as unknown elsewhere


def test_a_text_too_long_is_warned_about_with_segments_encoding_and_the_character(
    tmp_path: Path,
) -> None:
    text = f"Hi {{{{ customer.first_name }}}}, we{QUOTE}re looking forward to seeing you. " * 2
    files = {**FILES, "reminder/sms.txt": text, "reminder/de/sms.txt": "Hallo! " * 30}
    assert warnings(write(tmp_path, files)) == [
        "message_templates/reminder/sms.txt: warning: the text of template 'reminder' renders "
        "(with sample values) to 2 SMS segments, more than delivery.sms.max_segments (1), in "
        f"UCS-2 (101 UTF-16 units, 67 a segment): {QUOTE} (U+2019) is not in GSM-7 and makes "
        "the whole text UCS-2",
        "message_templates/reminder/de/sms.txt: warning: the text of template 'reminder' "
        "renders (with sample values) to 2 SMS segments, more than delivery.sms.max_segments "
        "(1), in GSM-7 (209 septets, 153 a segment)",
    ]


@pytest.mark.parametrize(
    "text",
    ["{{ vars.shop }}: 20% off this week!\n", "Thanks to all who stopped by! 20% off all week.\n"],
    ids=["no-stop", "stopped-by"],
)
def test_a_marketing_text_without_stop_is_warned_about(tmp_path: Path, text: str) -> None:
    files = {**FILES, "promo/sms.txt": text}
    assert warnings(write(tmp_path, files)) == [
        "message_templates/promo/sms.txt: warning: the text of template 'promo' is sent as "
        'marketing, but does not say how to opt out: add e.g. "Reply STOP to opt out" '
        "(Twilio stops texting a number that replies STOP)"
    ]


def test_a_text_renders_alone_without_trailing_whitespace(tmp_path: Path) -> None:
    files = {
        **FILES,
        "letter/sms.txt": "\n{% if true %}\nHello  \n{% endif %}\nBye\t\n\n\n",
        "letter/body.txt": "{{ customer.missing }}",  # an email part that cannot render
    }
    templates = TemplateSet.load(write(tmp_path, files) / "message_templates")
    context = {"customer": {}}
    rendered = templates.render(
        "letter", locale="en", timezone="UTC", context=context, parts=SMS_PARTS
    )
    assert (rendered.sms, rendered.subject, rendered.text) == ("Hello\nBye", "", "")
    assert sms_text("  a  \n\n b \n\n") == "  a\n\n b"


def test_the_no_break_space_of_an_english_time_does_not_make_a_text_ucs2(tmp_path: Path) -> None:
    files = {**FILES, "reminder/sms.txt": "See you at {{ event.data.starts_at|time }}."}
    templates = TemplateSet.load(write(tmp_path, files) / "message_templates")
    context = {"event": {"data": {"starts_at": "2026-12-24T10:30:00+00:00"}}}
    rendered = templates.render(
        "reminder", locale="en_US", timezone="UTC", context=context, parts=SMS_PARTS
    )
    assert rendered.sms == "See you at 10:30 AM."  # CLDR writes 10:30\u202fAM
    assert sms_text("a\u00a0b\u2009c") == "a b c"


def test_a_fallback_rule_needs_the_parts_of_every_channel_it_lists(tmp_path: Path) -> None:
    rules = RULES.replace(
        "{template: reminder, channel: sms}", "{template: reminder, channels: [sms, email]}"
    )
    assert problems(write(tmp_path, FILES, rules)) == [
        "rules/r.yaml:1: rule 'reminder' uses template 'reminder', which cannot be sent on its "
        "channel: email needs subject.txt and body.txt in message_templates/reminder/",
    ]
