"""The ``caps:`` section of touchflow.yaml: at most so many sends of a category per period.

A cap counts every channel together (e-mails, texts and webhook posts alike) unless it
says ``per_channel: true``: then each channel has that many of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from touchflow.checks import Collector, line_of
from touchflow.durations import parse_period
from touchflow.errors import shown
from touchflow.models import Category
from touchflow.yamlload import LineDict


@dataclass(frozen=True, slots=True, kw_only=True)
class Cap:
    category: Category
    max: int
    per: timedelta
    per_channel: bool = False  # each channel counted apart; default: all together


def parse_caps(value: Any, line: int, out: Collector) -> tuple[Cap, ...]:
    if not isinstance(value, list):
        out.add(line, "caps must be a list of {category, max, per}")
        return ()
    caps: list[Cap] = []
    for i, item in enumerate(value):
        doc = out.mapping(item, line_of(value, i, line), what="a cap")
        if doc is not None:
            cap = _read_cap(doc, out)
            if cap is not None:
                caps.append(cap)
    return tuple(caps)


def _read_cap(doc: LineDict, out: Collector) -> Cap | None:
    """One cap; every problem of it is reported, not just the first."""
    out.check_keys(
        doc, ("category", "max", "per", "per_channel"), where="a cap",
        required=("category", "max", "per"),
    )  # fmt: skip
    per_channel = doc.get("per_channel", False)
    if not isinstance(per_channel, bool):
        out.add(
            doc.line_of("per_channel"),
            f"cap per_channel must be true or false, not {shown(per_channel)}",
        )
        per_channel = None
    cat = doc.get("category")
    ok = True
    if "category" in doc and cat not in [c.value for c in Category]:
        out.add(
            doc.line_of("category"),
            f"cap category must be marketing or transactional, not {shown(cat)}",
        )
        ok = False
    limit = doc.get("max")
    if "max" in doc and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        out.add(doc.line_of("max"), f"cap max must be a whole number ≥ 0, not {shown(limit)}")
        ok = False
    per = None
    if "per" in doc:
        per = out.parse(parse_period, doc["per"], doc.line_of("per"), what="cap per")
    if not ok or per is None or cat is None or not isinstance(limit, int) or per_channel is None:
        return None
    return Cap(category=Category(cat), max=limit, per=per, per_channel=per_channel)
