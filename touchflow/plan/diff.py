"""Two plans of the same customers compared by touchpoint key: what a change would do.

`touchflow diff` plans every customer with the base version of the project and with the
working tree; this module compares the two plans of one page of customers and keeps only
the differences: a key added, gone, moved (old → new due time), now held or now planned
(with both reasons), held for another reason, or with other content. Content is rendered
only where it could differ (``Renderings.could_differ``): the same template files, locale
and context render the same message, so a change to rules alone renders nothing.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from touchflow.errors import RenderError
from touchflow.messages.build import message_fields, unsubscribe_uris
from touchflow.messages.render import EMAIL_PARTS, SMS_PARTS, RenderedMessage
from touchflow.models import PlannedTouchpoint, Status
from touchflow.project import Project


class Kind(enum.StrEnum):
    """What changed for one key. Part of the JSON interface (docs/explain.md)."""

    ADDED = "added"  # planned or held by the new version only
    GONE = "gone"  # in the base's plan, not in the new one
    MOVED = "moved"  # another due time
    NOW_HELD = "now_held"  # planned before, held now
    NOW_PLANNED = "now_planned"  # held before, planned now
    REASON = "reason"  # held in both, for another reason
    CONTENT = "content"  # subject, text or HTML differ


@dataclass(frozen=True, slots=True, kw_only=True)
class Side:
    """One version's touchpoint, as far as a diff shows it."""

    status: Status
    reason: str | None
    detail: str | None
    due_at: datetime
    template: str
    category: str
    timezone: str  # the customer's, which local times are shown in


@dataclass(frozen=True, slots=True, kw_only=True)
class Content:
    """How the message differs: unified diffs of subject and text, and whether the HTML does."""

    subject: tuple[str, ...]
    text: tuple[str, ...]
    html_changed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyChange:
    key: str
    rule: str
    customer: str
    kinds: tuple[Kind, ...]
    base: Side | None
    new: Side | None
    content: Content | None = None


def side(tp: PlannedTouchpoint) -> Side:
    return Side(
        status=tp.status,
        reason=tp.reason.value if tp.reason else None,
        detail=tp.detail,
        due_at=tp.due_at,
        template=tp.template,
        category=tp.category.value,
        timezone=tp.timezone,
    )


def template_digests(project: Project) -> dict[str, str]:
    """A digest of each template's files (its folder under message_templates/)."""
    root = project.config.templates_dir
    digests = {}
    for name in project.templates.names():
        digest = hashlib.sha256()
        folder = root / name
        files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        for path in files:
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
        digests[name] = digest.hexdigest()
    return digests


@dataclass(frozen=True, slots=True)
class Renderings:
    """The two versions' templates, and which of them render alike from the same context."""

    base: Project
    new: Project
    alike: frozenset[str]  # template names whose files (and the locale) are the same in both

    @classmethod
    def of(cls, base: Project, new: Project) -> Renderings:
        if base.config.locale != new.config.locale:
            return cls(base, new, frozenset())
        a, b = template_digests(base), template_digests(new)
        return cls(base, new, frozenset(n for n in a if b.get(n) == a[n]))

    def could_differ(self, old: PlannedTouchpoint, new: PlannedTouchpoint) -> bool:
        return (
            old.template != new.template
            or new.template not in self.alike
            or old.timezone != new.timezone
            or old.context != new.context
        )

    def content(self, old: PlannedTouchpoint, new: PlannedTouchpoint) -> Content | None:
        """The difference of the two messages, or None when they are the same."""
        if not self.could_differ(old, new):
            return None
        a, b = _render(self.base, old), _render(self.new, new)
        if a == b:
            return None
        return Content(
            subject=_unified(a[0], b[0], "subject"),
            text=_unified(a[1], b[1], "text"),
            html_changed=a[2] != b[2],
        )


def _render(project: Project, tp: PlannedTouchpoint) -> tuple[str, str, str | None]:
    customer = tp.context.get("customer", {})
    fields = message_fields(project, unsubscribe_uris(project, tp))
    try:
        message: RenderedMessage = project.templates.render(
            tp.template,
            locale=customer.get("locale") or project.config.locale,
            timezone=tp.timezone,
            context={**tp.context, "message": fields},
            parts=SMS_PARTS if tp.channel == "sms" else EMAIL_PARTS,
        )
    except RenderError as exc:
        return (f"(not rendered: {exc})", "", None)
    text = message.sms if message.sms is not None else message.text  # a text: its sms.txt
    return (message.subject, text, message.html)


def _unified(a: str, b: str, name: str) -> tuple[str, ...]:
    if a == b:
        return ()
    lines = difflib.unified_diff(
        a.splitlines(), b.splitlines(), f"base/{name}", f"new/{name}", lineterm=""
    )
    return tuple(lines)


def compare(
    base: Iterable[PlannedTouchpoint],
    new: Iterable[PlannedTouchpoint],
    renderings: Renderings | None,
) -> list[KeyChange]:
    """What differs between two plans of the same customers, by key, in the new plan's
    order and then the keys that are gone. ``renderings`` None: content is not compared."""
    old_by_key = {tp.key: tp for tp in base}
    changes: list[KeyChange] = []
    for tp in new:
        old = old_by_key.pop(tp.key, None)
        if old is None:
            changes.append(_change(tp, (Kind.ADDED,), None, side(tp)))
            continue
        change = _changed(old, tp, renderings)
        if change is not None:
            changes.append(change)
    for old in old_by_key.values():
        changes.append(_change(old, (Kind.GONE,), side(old), None))
    return changes


def _change(
    tp: PlannedTouchpoint,
    kinds: tuple[Kind, ...],
    old: Side | None,
    new: Side | None,
    content: Content | None = None,
) -> KeyChange:
    return KeyChange(
        key=tp.key, rule=tp.rule_id, customer=tp.customer_id, kinds=kinds, base=old, new=new,
        content=content,
    )  # fmt: skip


def _changed(
    old: PlannedTouchpoint, new: PlannedTouchpoint, renderings: Renderings | None
) -> KeyChange | None:
    kinds = list(status_kinds(old, new))
    if old.due_at != new.due_at:
        kinds.append(Kind.MOVED)
    content = None
    if renderings is not None and new.status is Status.PLANNED:
        content = renderings.content(old, new)
        if content is not None:
            kinds.append(Kind.CONTENT)
    if not kinds:
        return None
    return _change(new, tuple(kinds), side(old), side(new), content)


def status_kinds(old: PlannedTouchpoint, new: PlannedTouchpoint) -> Sequence[Kind]:
    if old.status is new.status:
        held_otherwise = old.status is Status.HELD and old.reason != new.reason
        return (Kind.REASON,) if held_otherwise else ()
    return (Kind.NOW_HELD,) if new.status is Status.HELD else (Kind.NOW_PLANNED,)
