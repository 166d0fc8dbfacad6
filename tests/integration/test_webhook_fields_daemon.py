"""`touchflow run` posting a webhook rule whose template has only webhook.json.j2 to a
receiver on 127.0.0.1: the document carries ``fields``; a touchpoint whose data makes the
file render to something that is not JSON fails as render_error, saying where, and the
daemon goes on (a real daemon process)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from daemon_support import ANA, CONFIG, inquiry, outbox, touchflow, write_project
from webhook_support import Receiver, serve

NOW = "2026-11-23T08:00:00Z"
ENV = {"TOUCHFLOW_WEBHOOK_SECRET": "whsec-fields-test-7"}
RULES = """\
- id: ticket
  category: transactional
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  action: {template: ticket, channel: webhook}
"""
# The subject printed bare, as the docs say not to: valid JSON with the sample values
# (so validate passes), broken by a subject with a quote in it.
FIELDS = """\
{
  "name": {{ customer.first_name|tojson }},
  "inquiry": {{ event.data.inquiry_id|tojson }},
  "subject": "{{ event.data.subject }}"
}
"""


def test_the_document_carries_the_fields_and_bad_json_fails_the_row_alone(
    tmp_path: Path,
) -> None:
    receiver = Receiver([200])
    with serve(receiver) as url:
        root = write_project(
            tmp_path,
            customers=[ANA, {"id": "c2", "first_name": "Bo"}],
            events=[
                inquiry(1, subject="Opening hours?"),
                inquiry(2, customer="c2", subject='The "deluxe" price'),
            ],
            rules=RULES,
            config=CONFIG + f"delivery:\n  webhook: {{url: {url}, secret_env: "
            "TOUCHFLOW_WEBHOOK_SECRET}\n",
        )
        (root / "message_templates" / "ticket").mkdir()
        (root / "message_templates" / "ticket" / "webhook.json.j2").write_text(
            FIELDS, encoding="utf-8"
        )
        touchflow("validate", cwd=root)
        touchflow("run", "--once", "--now", NOW, cwd=root, env={**os.environ, **ENV})
    (got,) = receiver.received
    document = json.loads(got.body)
    assert got.headers["idempotency-key"] == document["key"] == "ticket:c1:q-1:0"
    assert document["fields"] == {"name": "Ana", "inquiry": "q-1", "subject": "Opening hours?"}
    assert document["message"] == {"subject": "", "text": "", "html": None}
    rows = {row["customer"]: row for row in outbox(root)}
    assert (rows["c1"]["state"], rows["c1"]["channel"]) == ("sent", "webhook")
    assert (rows["c2"]["state"], rows["c2"]["reason"]) == ("failed", "render_error")
    assert rows["c2"]["detail"].startswith(
        "message_templates/ticket/webhook.json.j2: webhook.json.j2 is not JSON: "
        "Expecting ',' delimiter at line 4, column 20 of the rendered text"
    )
