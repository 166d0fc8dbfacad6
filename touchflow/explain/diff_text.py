"""`touchflow diff`'s table for people: a summary per rule first, then (``--details``)
every key that changed and every outbox row it touches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from touchflow.explain.diff import DiffReport, RuleSummary
from touchflow.explain.diff_outbox import RowEffect
from touchflow.models import CANCELLED_BY_HAND
from touchflow.plan.diff import KeyChange, Kind, Side
from touchflow.plan.preview import window_text
from touchflow.timecalc import zone
from touchflow.words import counted

KIND_WORDS = {
    Kind.ADDED: "added",
    Kind.GONE: "no longer sent",
    Kind.MOVED: "moved",
    Kind.NOW_HELD: "now held",
    Kind.NOW_PLANNED: "now planned",
    Kind.REASON: "held otherwise",
    Kind.CONTENT: "content changed",
}


def report_lines(report: DiffReport, tz_name: str, *, details: bool) -> Iterator[str]:
    """The report as printed; ``tz_name``: the project's zone, for the window."""
    base = report.base.rev or report.base.label
    yield f"Comparing the working tree with {base}, {window_text(report.request.window, tz_name)}"
    yield (
        f"{counted(report.customers, 'customer')}: "
        f"{counted(report.base_touchpoints, 'touchpoint')} with {base}, "
        f"{report.new_touchpoints} with the working tree"
    )
    if not report.changed:
        yield "No change: both versions plan the same touchpoints, with the same messages."
        return
    yield ""
    same = 0
    for rule in report.rules:
        lines = list(_rule_lines(rule))
        same += not lines
        yield from lines
    if same:
        yield f"No change in the other {same} rule{'s' if same != 1 else ''}."
    if details:
        yield from _details(report)
    else:
        yield ""
        yield "--details lists every key; --format json gives the same for scripts."


def _rule_lines(rule: RuleSummary) -> Iterator[str]:
    label = {"both": "", "new": " (new rule)", "base": " (rule removed)"}[rule.version]
    counts = [f"{n} {KIND_WORDS[k]}" for k, n in rule.counts.items() if n]
    moved = {e: n for e, n in rule.outbox.items() if n}
    if not counts and not moved and rule.version == "both":
        return
    yield f"{rule.rule}{label} ({rule.where}): {', '.join(counts) or 'nothing due in the period'}"
    if rule.examples:
        yield f"  for example {', '.join(rule.examples)}"
    if moved:
        shown = ", ".join(f"{n} {e}" for e, n in sorted(moved.items()))
        yield f"  in the outbox already: {shown}"


def _details(report: DiffReport) -> Iterator[str]:
    if report.changes:
        yield ""
        yield "Touchpoints:"
    for change in report.changes:
        yield from change_lines(change)
    if report.effects:
        yield ""
        yield "Rows in the outbox when the daemon loads the working tree:"
    for effect in report.effects:
        yield effect_line(effect)


def change_lines(change: KeyChange) -> Iterator[str]:
    kinds = ", ".join(KIND_WORDS[k] for k in change.kinds)
    yield f"  {change.key} · {change.customer} · {kinds}"
    old, new = change.base, change.new
    if old is not None and new is not None:
        due = _local(old) if old.due_at == new.due_at else f"{_local(old)} → {_local(new)}"
        was, now = _status(old), _status(new)
        yield f"    {now if was == now else f'{was} → {now}'} · {due}"
    else:
        shown = new or old
        assert shown is not None
        yield f"    {'new' if old is None else 'was'}: {_status(shown)} · {_local(shown)}"
    if change.content is not None:
        for line in (*change.content.subject, *change.content.text):
            yield f"    | {line}"
        if change.content.html_changed:
            yield "    | the HTML part changed too"


def _status(side: Side) -> str:
    if side.reason is None:
        return side.status.value
    return f"{side.status.value} ({side.reason}{': ' + side.detail if side.detail else ''})"


def _local(side: Side) -> str:
    return _when(side.due_at, side.timezone)


def _when(instant: datetime, tz_name: str) -> str:
    return f"{instant.astimezone(zone(tz_name)):%a %Y-%m-%d %H:%M %Z}"


def effect_line(effect: RowEffect) -> str:
    due = _utc(effect.due_at)
    if effect.effect == "moved":
        return f"  {effect.key} · {effect.state.value} · moved {due} → {_utc(effect.new_due_at)}"
    if effect.effect == "kept":
        held = ": cancelled by hand" if effect.reason == CANCELLED_BY_HAND else ""
        return f"  {effect.key} · {effect.state.value} · kept as it is{held} (due {due})"
    why = f": {effect.reason}" if effect.reason else ""
    return f"  {effect.key} · {effect.state.value} → {effect.new_state.value}{why} (due {due})"


def _utc(instant: datetime) -> str:
    return f"{instant:%Y-%m-%d %H:%M} UTC"
