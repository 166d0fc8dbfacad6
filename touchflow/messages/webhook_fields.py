"""A template's ``webhook.json.j2``: rendered, it must give a JSON object, which a webhook
rule posts as the document's ``fields`` (``touchflow.channels.webhook_payload``).

Values go in with Jinja's ``tojson`` filter, ``{"name": {{ customer.first_name|tojson }}}``:
the file is not autoescaped (only ``.html`` files are), so a value printed bare would end
its JSON string at its first quote. A render that is not a JSON object (bad JSON, a list,
a string, NaN) fails the touchpoint as render_error, saying where: the file, and the line
and column in the rendered text. ``validate`` renders each ``webhook.json.j2`` of a webhook
rule's template with sample values (``touchflow.messages.webhook_check``) and reports one
that gives no JSON object at the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from touchflow.errors import RenderError
from touchflow.messages.template_files import Part, TemplateSource

FIELDS_FILE = "webhook.json.j2"
FIELDS_PARTS: tuple[Part, ...] = ("webhook",)
_HINT = "; print values with |tojson, e.g. {{ customer.first_name|tojson }}"
MAX_DEPTH = 64  # arrays and objects inside one another
_KINDS: Mapping[type, str] = {list: "an array", str: "a string", bool: "true or false"}


class FieldsError(RenderError):
    """A webhook.json.j2 rendered to something that is not a JSON object."""

    def __init__(self, source: TemplateSource, reason: str) -> None:
        self.reason = reason
        super().__init__(source.template, reason, path=source.display_path)


def parse_fields(rendered: str, source: TemplateSource) -> dict[str, Any]:
    """The JSON object ``source`` (a webhook.json.j2) rendered to; FieldsError if not one."""
    try:
        value = json.loads(rendered, parse_constant=_refuse, parse_float=_finite)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno} of the rendered text"
        message = f"{FIELDS_FILE} is not JSON: {exc.msg} at {where}{_HINT}"
        raise FieldsError(source, message) from None
    except ValueError as exc:  # NaN, Infinity, or a number too large for a float
        raise FieldsError(source, f"{FIELDS_FILE} is not JSON: {exc}") from None
    except RecursionError:
        value = None
        depth = MAX_DEPTH + 1
    else:
        depth = _depth(value)
    if depth > MAX_DEPTH:  # the document around it must still encode, in any call stack
        raise FieldsError(source, f"{FIELDS_FILE}: JSON nested more than {MAX_DEPTH} deep")
    if not isinstance(value, dict):
        kind = "null" if value is None else _KINDS.get(type(value), "a number")
        raise FieldsError(
            source, f"{FIELDS_FILE} gives {kind}, not a JSON object: put the fields in {{ }}"
        )
    return value


def _depth(value: Any) -> int:
    """How many arrays and objects deep ``value`` goes (walked with a stack of its own)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            items = item.values() if isinstance(item, dict) else item
            stack.extend((inner, depth + 1) for inner in items)
    return deepest


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number (Python writes it for a float that is)")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large for a JSON number receivers can read")
    return number
