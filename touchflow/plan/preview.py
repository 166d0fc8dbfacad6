"""`touchflow preview`: plan, render and show — as a table, as JSON or as .eml files.

The JSON shape is a public interface (docs/preview-json.md); keep it stable.
"""

from __future__ import annotations

import heapq
import json
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import AsyncIterable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TextIO

from rich.console import Console
from rich.table import Table

from touchflow.errors import UserError
from touchflow.messages.build import Built, build
from touchflow.messages.render import RenderedMessage
from touchflow.models import Adjustment, PlannedTouchpoint, Window
from touchflow.project import Project, load_project_checked, with_links
from touchflow.rules.context import trigger_summary
from touchflow.timecalc import zone

PreviewItem = Built


def load_for_preview(root: Path) -> Project:
    """The project as the preview shows it: marketing messages carry the daemon's
    unsubscribe links (placeholders that no server accepts without the secret)."""
    return with_links(load_project_checked(root), os.environ, preview=True)


def render_all(project: Project, touchpoints: Sequence[PlannedTouchpoint]) -> list[PreviewItem]:
    """Render every touchpoint; one that cannot be rendered or composed is held with why."""
    return [build(project, tp, date=tp.due_at) for tp in touchpoints]


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_json(item: PreviewItem) -> dict[str, Any]:
    tp, msg = item.touchpoint, item.message
    local = tp.due_at.astimezone(zone(tp.timezone)).replace(microsecond=0)
    return {
        "key": tp.key,
        "rule": tp.rule_id,
        "customer": tp.customer_id,
        "channel": tp.channel,
        "category": tp.category.value,
        "template": tp.template,
        "status": tp.status.value,
        "reason": tp.reason.value if tp.reason else None,
        "detail": tp.detail,
        "send_at": utc_text(tp.due_at),
        "expires_at": utc_text(tp.expires_at) if tp.expires_at else None,
        "local_send_at": local.isoformat(),
        "timezone": tp.timezone,
        "occurrence": tp.occurrence,
        "adjustments": [a.value for a in tp.adjustments],
        "to": tp.to,
        "locale": msg.locale if msg else None,
        "subject": msg.subject if msg else None,
        "text": msg.text if msg else None,
        "html": msg.html if msg else None,
        "sms": msg.sms if msg else None,  # the text of an SMS rule's touchpoint
    }


def to_json(items: Sequence[PreviewItem]) -> str:
    return json.dumps([as_json(i) for i in items], ensure_ascii=False, indent=2)


# A run: one page's elements in time order, a line each: the element's place in time
# order (TIME_ORDER, due_at in UTC) as a JSON array, a tab, and its text with each newline
# made a tab. JSON text holds no raw tab or newline of its own, so both come back exactly.
RUN_SUFFIX = ".run"
MERGE_FAN_IN = 64  # runs open at once while merging (file descriptors)


def _run_line(tp: PlannedTouchpoint, text: str) -> str:
    due = tp.due_at.astimezone(UTC).isoformat(timespec="microseconds")
    place = json.dumps([due, tp.customer_id, tp.rule_id, tp.key], ensure_ascii=False)
    flat = text.replace("\n", "\t")
    return f"{place}\t{flat}\n"


def _place(line: str) -> list[str]:
    place: list[str] = json.loads(line[: line.index("\t")])
    return place


def _text(line: str) -> str:
    return line[line.index("\t") + 1 : -1].replace("\t", "\n")


def _open_run(path: Path, mode: Literal["r", "w"]) -> TextIO:
    # newline="\n": a line ends at a newline only (not at U+2028 and the like), untranslated.
    return path.open(mode, encoding="utf-8", errors="surrogatepass", newline="\n")


async def json_runs(
    project: Project,
    pages: AsyncIterable[list[PlannedTouchpoint]],
    directory: Path,
    *,
    show_all: bool,
) -> list[Path]:
    """The elements of ``to_json(render_all(...))``, one sorted run per page, as files in
    ``directory``; ``write_runs`` merges them into the document.

    Each page is rendered and written before the next one is planned, so nothing is
    kept from page to page: not the customers' facts, the rendered messages, nor
    the elements' text (about 600 bytes a touchpoint).
    """
    runs: list[Path] = []
    async for page in pages:  # each page is in time order (plan_pages)
        fd, name = tempfile.mkstemp(suffix=RUN_SUFFIX, dir=directory)
        os.close(fd)
        runs.append(Path(name))
        with _open_run(runs[-1], "w") as run:
            for tp in page:
                if tp.reason is not None and not show_all:
                    continue  # held by the plan: not shown, so not rendered
                item = build(project, tp, date=tp.due_at)
                if item.touchpoint.reason is None or show_all:
                    text = json.dumps(as_json(item), ensure_ascii=False, indent=2)
                    # Not textwrap.indent: it also breaks lines at U+2028 and the like,
                    # which json.dumps leaves raw in strings. Its own lines end at "\n".
                    run.write(_run_line(tp, "  " + text.replace("\n", "\n  ")))
    return runs


def write_runs(runs: Sequence[Path], out: TextIO) -> None:
    """The JSON array of the runs' elements in time order: what ``to_json`` writes.

    The runs are merged a line at a time, so only one element of each is held; and
    at most ``MERGE_FAN_IN`` at once (more are merged into fewer, longer runs first),
    so a million customers in small pages never need a thousand open files.
    """
    runs = _fewer_runs(list(runs))
    with ExitStack() as files:
        lines = heapq.merge(*(files.enter_context(_open_run(r, "r")) for r in runs), key=_place)
        first = next(lines, None)
        if first is None:
            out.write("[]\n")
            return
        out.write("[\n")
        out.write(_text(first))
        for line in lines:
            out.write(",\n")
            out.write(_text(line))
        out.write("\n]\n")


def _fewer_runs(runs: list[Path]) -> list[Path]:
    """Merge ``runs`` in groups into longer runs (in their directory, each group's files
    removed once merged) until at most ``MERGE_FAN_IN`` are left."""
    while len(runs) > MERGE_FAN_IN:
        merged = []
        for start in range(0, len(runs), MERGE_FAN_IN):
            group = runs[start : start + MERGE_FAN_IN]
            fd, name = tempfile.mkstemp(suffix=RUN_SUFFIX, dir=group[0].parent)
            os.close(fd)
            with ExitStack() as files, _open_run(Path(name), "w") as into:
                into.writelines(
                    heapq.merge(
                        *(files.enter_context(_open_run(r, "r")) for r in group), key=_place
                    )
                )
            for run in group:
                run.unlink()
            merged.append(Path(name))
        runs = merged
    return runs


def _subject(message: RenderedMessage | None) -> str:
    """The subject column: an email's subject, the start of a text (an SMS has none)."""
    if message is None:
        return "—"
    if message.sms is None:
        return message.subject
    line = " ".join(message.sms.split())
    return line if len(line) <= 60 else line[:59] + "…"


def write_eml(items: Sequence[PreviewItem], out_dir: Path) -> list[Path]:
    """One .eml per planned touchpoint, named by order, time, rule and customer."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out_dir}: cannot create the directory ({exc.strerror})") from None
    written = []
    for n, item in enumerate(items, start=1):
        tp = item.touchpoint
        if item.email is None or tp.reason is not None:
            continue  # only what would really be sent
        name = f"{n:04d}-{tp.due_at.strftime('%Y%m%dT%H%M')}-{tp.rule_id}-{tp.customer_id}.eml"
        path = out_dir / _safe_name(name)
        path.write_bytes(item.email.data)
        written.append(path)
    return written


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def window_text(window: Window, tz_name: str) -> str:
    """The window as the table's header says it, in the project's zone.

    Its length in hours is added where the wall clock would mislead: a local day
    of 23 or 25 hours, or 24 hours from an instant that end at another local time.
    """
    tz = zone(tz_name)
    start, end = window.start.astimezone(tz), window.end.astimezone(tz)
    text = f"from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({tz_name}"
    real = window.end - window.start
    if real != end.replace(tzinfo=None) - start.replace(tzinfo=None):
        hours = real / timedelta(hours=1)
        text += f", {hours:g} hours"
    return text + ")"


# The table's words for each adjustment; the JSON carries the names (preview-json.md).
ADJUSTMENT_WORDS = {
    Adjustment.MOVED_BY_WINDOW: "moved into the send window",
    Adjustment.MOVED_BY_HOLIDAY: "moved off a holiday",
    Adjustment.DST_GAP: "local time skipped by DST: sent as the clocks jump",
}


def notes(tp: PlannedTouchpoint) -> str:
    """What moved this touchpoint and, if held, the specifics of why (which condition,
    which suppression, which cap) — the table's words for `adjustments` and `detail`."""
    words = [ADJUSTMENT_WORDS.get(a, a.value) for a in tp.adjustments]
    if tp.reason is not None and tp.detail:
        words.append(tp.detail)  # a planned one's detail only repeats the adjustments
    return "; ".join(words)


def print_table(
    project: Project,
    items: Sequence[PreviewItem],
    console: Console,
    *,
    show_held: bool,
    rule_id: str | None = None,
) -> None:
    tz = zone(project.config.timezone)
    by_day: dict[str, list[PreviewItem]] = defaultdict(list)
    for item in items:
        day = item.touchpoint.due_at.astimezone(tz).strftime("%a %d %b %Y")
        by_day[day].append(item)
    # Every day's table has the same columns: a notes column if any touchpoint has notes.
    with_notes = any(notes(i.touchpoint) for i in items)
    # A channel column once anything goes elsewhere than email (a webhook rule).
    with_channel = any(i.touchpoint.channel != "email" for i in items)
    for day, day_items in by_day.items():
        table = Table(
            title=f"{day}  ({project.config.timezone})",
            title_justify="left",
            expand=False,
            show_lines=False,
        )
        # Short values stay on one line; the subject and the notes wrap at word breaks.
        columns = ("time", "customer local time", "rule", "customer")
        for column in (*columns, *(["channel"] if with_channel else []), "to"):
            table.add_column(column, no_wrap=True)
        table.add_column("subject", overflow="fold")
        if show_held:
            table.add_column("status", no_wrap=True)
        if with_notes:
            table.add_column("notes", overflow="fold")
        for item in day_items:
            row = _row(item, tz, show_held, with_notes)
            if with_channel:
                row.insert(4, item.touchpoint.channel)
            table.add_row(*row)
        console.print(table)
    print_summary(project, items, console, rule_id=rule_id)


def _row(item: PreviewItem, tz: Any, show_held: bool, with_notes: bool) -> list[str]:
    tp = item.touchpoint
    local = tp.due_at.astimezone(zone(tp.timezone))
    row = [
        tp.due_at.astimezone(tz).strftime("%H:%M"),
        f"{local.strftime('%a %H:%M')} {tp.timezone}",
        tp.rule_id,
        tp.customer_id,
        tp.to or "—",
        _subject(item.message),
    ]
    if show_held:
        row.append(tp.status.value if tp.reason is None else f"held: {tp.reason.value}")
    if with_notes:
        row.append(notes(tp) or "—")
    return row


def print_summary(
    project: Project, items: Sequence[PreviewItem], console: Console, *, rule_id: str | None = None
) -> None:
    """Planned and held counts per rule: every rule, or only ``rule_id`` (`--rule`)."""
    planned: Counter[str] = Counter()
    held: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        tp = item.touchpoint
        if tp.reason is None:
            planned[tp.rule_id] += 1
        else:
            held[tp.rule_id][tp.reason.value] += 1
    table = Table(title="Per rule", title_justify="left")
    for column in ("rule", "category", "trigger", "planned", "held"):
        table.add_column(column, overflow="fold")
    for rule in project.rules:
        if rule_id is not None and rule.id != rule_id:
            continue
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(held[rule.id].items()))
        table.add_row(
            rule.id,
            rule.category.value,
            trigger_summary(rule),
            str(planned[rule.id]),
            reasons or "—",
        )
    console.print(table)
