"""An SMS rule's touchpoints: addressed to the customer's phone number (held without one),
sent as an envelope holding the rendered sms.txt, and compared by `touchflow diff` by their
text."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

from support import customer, event, facts

from touchflow.channels import Envelope
from touchflow.models import HoldReason, OutboxRow, OutboxState, PlannedTouchpoint, Window
from touchflow.plan.diff import Renderings
from touchflow.plan.planner import plan
from touchflow.project import Project, load_project_checked
from touchflow.send.batch import envelope
from touchflow.send.outbox import desired_rows

CONFIG = """\
timezone: UTC
events:
  inquiry_received: {inquiry_id: string}
delivery:
  sms: {provider: folder}
"""
RULES = """\
- id: ack
  category: transactional
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  action: {template: ack, channel: sms}
"""
NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)
NUMBER = "+4915112345678"


def load(root: Path, text: str) -> Project:
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
    (root / "touchflow.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "message_templates" / "ack").mkdir(parents=True)
    (root / "message_templates" / "ack" / "sms.txt").write_text(
        textwrap.dedent(text), encoding="utf-8"
    )
    return load_project_checked(root)


def touchpoints(
    project: Project, phone: str | None, *, consent: bool = True
) -> list[PlannedTouchpoint]:
    asked = event("inquiry_received", "2026-11-23T07:30:00Z", {"inquiry_id": "q-1"})
    who = facts(customer(phone=phone, consent_sms=consent), [asked])
    window = Window(start=NOW.replace(hour=0), end=NOW.replace(hour=23))
    return plan(project.rules, [who], window=window, config=project.config, now=NOW)


def test_an_sms_touchpoint_goes_to_the_phone_number_as_its_text(tmp_path: Path) -> None:
    project = load(tmp_path, "Hi {{ customer.first_name }}, thanks!  \n\n")
    (tp,) = touchpoints(project, NUMBER)
    assert (tp.channel, tp.to, tp.reason) == ("sms", NUMBER, None)
    (row,) = desired_rows([tp], {})
    sent = envelope(project, row, tp, date=NOW)
    assert isinstance(sent, Envelope)
    assert (sent.channel, sent.recipient, sent.data, sent.sender) == (
        "sms",
        NUMBER,
        b"Hi Ana, thanks!",
        "",
    )


def test_a_customer_without_a_phone_number_is_held(tmp_path: Path) -> None:
    project = load(tmp_path, "Hi")
    (tp,) = touchpoints(project, None)
    assert (tp.reason, tp.detail, tp.to) == (
        HoldReason.NO_ADDRESS,
        "customer has no phone number",
        None,
    )


def test_a_text_that_cannot_render_fails_its_row(tmp_path: Path) -> None:
    project = load(tmp_path, "{{ customer.first_name|date }}")
    (tp,) = touchpoints(project, NUMBER)
    (row,) = desired_rows([tp], {})
    failed = envelope(project, row, tp, date=NOW)
    assert isinstance(failed, OutboxRow)
    assert (failed.state, failed.reason) == (OutboxState.FAILED, "render_error")
    assert "sms.txt" in (failed.last_error or "")


def test_diff_compares_an_sms_touchpoint_by_its_text(tmp_path: Path) -> None:
    base = load(tmp_path / "base", "Hi {{ customer.first_name }}")
    new = load(tmp_path / "new", "Hello {{ customer.first_name }}")
    (old_tp,) = touchpoints(base, NUMBER)
    (new_tp,) = touchpoints(new, NUMBER)
    content = Renderings.of(base, new).content(old_tp, new_tp)
    assert content is not None
    assert [line for line in content.text if line[:1] in "+-" and line[:2] not in ("++", "--")] == [
        "-Hi Ana",
        "+Hello Ana",
    ]


def test_a_customer_who_has_not_agreed_to_texts_is_held(tmp_path: Path) -> None:
    project = load(tmp_path, "Thanks!")
    (tp,) = touchpoints(project, NUMBER, consent=False)
    assert (tp.channel, tp.reason) == ("sms", HoldReason.NO_CONSENT)
    assert tp.detail == "customer has not consented to texts"
