"""What `touchflow validate` warns about in the texts SMS rules send.

- A text longer than ``delivery.sms.max_segments`` segments: each ``sms.txt`` (and
  each locale's) is rendered with sample values (``specimen``: a customer called
  Alexandra Richardson, a date in December, ten letters for a string of event data...)
  and counted as a carrier would (``touchflow.messages.sms_segments``); the warning
  says how many segments, in which encoding, and which character forced UCS-2.
- A marketing text that does not say how to stop them: no "STOP" in it.

A template the sample values cannot render (a filter that wants a number where the
specimen has a word) is not measured: its length is not guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeAlias

from jinja2 import nodes

from touchflow.config.project_config import ProjectConfig
from touchflow.errors import Problem, RenderError
from touchflow.messages.render import SMS_PARTS, TemplateSet
from touchflow.messages.sms_segments import Encoding, count_segments, shown_char
from touchflow.messages.template_files import TemplateSource
from touchflow.models import FieldType

Scope: TypeAlias = Mapping[str, "Scope | None"]

OPT_OUT = re.compile(r"\b(stop|unsubscribe)\b", re.IGNORECASE)
_WHEN = datetime(2026, 12, 24, 10, 30, tzinfo=UTC)
_WORD = "abcdefghij"  # a string nothing more is known of: ten letters
_KNOWN: Mapping[str, Any] = {
    "customer.id": "c-1001",
    "customer.email": "alexandra@example.com",
    "customer.phone": "+15017122661",
    "customer.first_name": "Alexandra",
    "customer.last_name": "Richardson",
    "customer.full_name": "Alexandra Richardson",
    "customer.birthday": date(1990, 6, 15),
    "customer.customer_since": date(2020, 3, 1),
    "customer.consent_marketing": True,
    "customer.lifecycle": "long_time",
    "customer.tenure_years": 5,
    "customer.age": 36,
    "customer.has_open_complaint": False,
    "occurrence.key": "2026-12-24",
    "occurrence.date": _WHEN.date(),
    "occurrence.year": 2026,
    "occurrence.years": 5,
    "occurrence.holiday": "Christmas Day",
    "touchpoint.send_at": _WHEN,
    "event.id": "e-1001",
    "event.at": _WHEN,
    "message.subject": "",
}
_TYPED: Mapping[FieldType, Any] = {
    FieldType.STRING: _WORD,
    FieldType.INT: 42,
    FieldType.FLOAT: 12.5,
    FieldType.BOOL: True,
    FieldType.DATE: _WHEN.date(),
    FieldType.DATETIME: _WHEN,
    FieldType.LIST: [_WORD],
    FieldType.ANY: _WORD,
}


def specimen(scope: Scope, config: ProjectConfig, *, rule_id: str) -> dict[str, Any]:
    """Sample values for every name of ``scope``: what a text is measured with."""
    known = {
        **_KNOWN,
        "customer.timezone": config.timezone,
        "customer.locale": config.locale,
        "customer.country": config.country or "US",
        "touchpoint.key": f"{rule_id}:c-1001:2026-12-24",
        "touchpoint.rule": rule_id,
        "message.postal_address": config.email.postal_address,
        **{f"vars.{name}": value for name, value in config.vars.items()},
        **{f"customer.{n}": _TYPED[t] for n, t in config.customer_attributes.items()},
    }
    for fields in config.events.values():
        for name, kind in fields.items():
            known.setdefault(f"event.data.{name}", _TYPED[kind])
    return _fill(scope, "", known)


def _fill(scope: Scope, prefix: str, known: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, inner in scope.items():
        path = f"{prefix}{name}"
        if inner is not None:
            values[name] = _fill(inner, f"{path}.", known)
        else:
            values[name] = known[path] if path in known else _WORD
    return values


def sms_warnings(
    templates: TemplateSet,
    name: str,
    context: Mapping[str, Any],
    *,
    max_segments: int,
    marketing: bool,
) -> list[Problem]:
    """Warnings about each sms.txt of template ``name`` rendered with ``context``."""
    found: list[Problem] = []
    for source in templates.sources(name):
        if source.part != "sms":
            continue
        try:
            text: str | None = templates.render(
                name,
                locale=source.locale or templates.default_locale,
                timezone="UTC",
                context=context,
                parts=SMS_PARTS,
            ).sms
        except RenderError:
            text = None
        if text is not None:
            found.extend(_too_long(source, text, max_segments))
        if marketing and not OPT_OUT.search(text if text is not None else _literal(source)):
            found.append(_warning(source, "is sent as marketing, but does not say how to opt out: "
                                  'add e.g. "Reply STOP to opt out" (Twilio stops texting a '
                                  "number that replies STOP)"))  # fmt: skip
    return found


def _too_long(source: TemplateSource, text: str, max_segments: int) -> list[Problem]:
    segments = count_segments(text)
    if segments.count <= max_segments:
        return []
    if segments.encoding is Encoding.UCS2:
        assert segments.forced_by is not None
        how = (
            f"UCS-2 ({segments.units} UTF-16 units, 67 a segment): "
            f"{shown_char(segments.forced_by)} is not in GSM-7 and makes the whole text UCS-2"
        )
    else:
        how = f"GSM-7 ({segments.units} septets, 153 a segment)"
    return [
        _warning(
            source,
            f"renders (with sample values) to {segments.count} SMS segments, more than "
            f"delivery.sms.max_segments ({max_segments}), in {how}",
        )
    ]


def _warning(source: TemplateSource, what: str) -> Problem:
    return Problem(
        path=source.display_path,
        line=None,
        message=f"warning: the text of template {source.template!r} {what}",
    )


def _literal(source: TemplateSource) -> str:
    """The text a template writes out itself (for a template the specimen cannot render)."""
    parts = [n.data for n in source.ast.find_all(nodes.TemplateData)]
    parts += [str(n.value) for n in source.ast.find_all(nodes.Const) if isinstance(n.value, str)]
    return " ".join(parts)
