"""The JSON document a webhook rule posts: the touchpoint and its rendered message.

Built when the touchpoint is sent (as an email's Date header is), from the rule's
template rendered as for an email: its subject, text and (if it has one) HTML part;
and, when the template has ``webhook.json.j2``, ``fields``: the JSON object it renders to.
``version`` changes only when a field changes meaning or goes away; new fields may be
added within a version. docs/channels.md lists every field.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from touchflow.messages.render import RenderedMessage
from touchflow.models import PlannedTouchpoint

VERSION = 1


def payload(
    tp: PlannedTouchpoint, message: RenderedMessage, *, sent_at: datetime
) -> dict[str, Any]:
    """The document for ``tp``; ``sent_at`` is the time of this attempt."""
    document: dict[str, Any] = {
        "version": VERSION,
        "key": tp.key,
        "rule": tp.rule_id,
        "customer_id": tp.customer_id,
        "occurrence": tp.occurrence,
        "category": tp.category.value,
        "template": tp.template,
        "locale": message.locale,
        "due_at": _utc(tp.due_at),
        "sent_at": _utc(sent_at),
        "message": {"subject": message.subject, "text": message.text, "html": message.html},
    }
    if message.fields is not None:  # a new key: compatible within version 1
        document["fields"] = message.fields
    return document


def body(tp: PlannedTouchpoint, message: RenderedMessage, *, sent_at: datetime) -> bytes:
    """``payload`` as the bytes posted: compact UTF-8 JSON."""
    document = payload(tp, message, sent_at=sent_at)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
