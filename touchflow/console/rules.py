"""``/console/rules``: each rule with its file and line, and what the running version
changes against a git revision of the project (``?base=``, default HEAD).

The diff is `touchflow diff`'s (and ``GET /v1/diff``'s): both versions planned over the
next ``DEFAULT_DAYS`` days, every key that differs, and what loading the running
version does to rows already in the outbox. The page lists the first ``SHOWN`` of each;
`touchflow diff --details` lists them all. Without git (or with a base that does not
load) the page says why and still lists the rules.

Each rule's volume over the next 30 days and a sample of its message come from
``touchflow.console.rules_volume``. Both plan everyone, so both are kept counts
(``touchflow.console.kept``, as the calendar's): counted off the request path when
first asked for or stale (the daemon planned since, the rules were reloaded, ten
minutes passed; the diff also when its revision names another commit), and until
then the page lists the rules, says "counting…" and reloads itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from functools import partial
from typing import TypeVar

from starlette.responses import Response

from touchflow.console.kept import MAX_AGE, Kept, Seen
from touchflow.console.rules_volume import DAYS, Volumes, volumes
from touchflow.console.visit import Visit
from touchflow.errors import UserError
from touchflow.explain.diff import DEFAULT_DAYS, DiffReport, diff_request, run_diff
from touchflow.explain.diff_base import base_files, commit_of, load_base
from touchflow.explain.diff_run import Versions
from touchflow.explain.diff_text import KIND_WORDS, change_lines, effect_line
from touchflow.plan.moment import Moment
from touchflow.plan.preview import window_text
from touchflow.project import Project
from touchflow.store import Store

SHOWN = 100  # changed keys listed, and outbox rows
REFRESH = 2  # seconds between the reloads while a count is under way
T = TypeVar("T")


async def rules_page(kept: Kept, visit: Visit) -> Response:
    base = visit.request.query_params.get("base") or "HEAD"
    engine = visit.backing.engine
    coming_seen = await kept.look(engine, ("rules", str(DAYS)), volumes)
    diff_seen, problem = await _look_diff(kept, visit, base)
    coming = _value(coming_seen, Volumes)
    report = _value(diff_seen, DiffReport)
    waiting = (coming is None and coming_seen.counting) or (
        report is None and not problem and diff_seen is not None
    )
    summaries = {s.rule: s for s in report.rules} if report is not None else {}
    return visit.show(
        "rules.html", title="Rules", rules=engine.project.rules, base=base, report=report,
        problem=problem, summaries=summaries, kind_words=KIND_WORDS,
        window=window_text(report.request.window, visit.tz) if report else "",
        changes=[list(change_lines(c)) for c in report.changes[:SHOWN]] if report else [],
        effects=[effect_line(e) for e in report.effects[:SHOWN]] if report else [],
        shown_most=SHOWN, coming=coming, coming_seen=coming_seen, diff_seen=diff_seen,
        coming_window=window_text(coming.window, visit.tz) if coming else "",
        coming_error=_error(coming_seen), refresh=REFRESH if waiting else None,
        max_age=int(MAX_AGE.total_seconds() // 60),
    )  # fmt: skip


async def _look_diff(kept: Kept, visit: Visit, rev: str) -> tuple[Seen | None, str]:
    """The kept diff against ``rev`` (counted again when ``rev`` names another commit),
    or why there is none: not a git repository, no such revision, a base that fails."""
    engine = visit.backing.engine
    try:
        commit = await asyncio.to_thread(commit_of, engine.project.config.root, rev)
    except UserError as exc:
        return None, str(exc)
    count = partial(_diff, rev=rev, commit=commit, timezone=visit.tz)
    seen = await kept.look(engine, ("diff", f"{commit} {rev} {visit.tz}"), count)
    return seen, _error(seen)


async def _diff(
    project: Project, store: Store, now: datetime, *, rev: str, commit: str, timezone: str
) -> DiffReport:
    """The diff against ``commit``, the one ``rev`` named when the page asked (a branch
    that moves since is counted again, under its new commit), named as ``rev``."""
    moment = Moment(instant=now, timezone=timezone)
    with base_files(project.config.root, rev=commit, base_dir=None) as base:
        base = dataclasses.replace(base, rev=rev, label=f"{rev} ({commit[:7]})")
        base_project = await asyncio.to_thread(load_base, base)
        request = diff_request(base_project, project, moment, days=DEFAULT_DAYS)
        versions = Versions.of(base_project, project, request.window)
        return await run_diff(base, versions, store, request, workers=1)


def _value(seen: Seen | None, kind: type[T]) -> T | None:
    if seen is None or seen.counted is None or not isinstance(seen.counted.value, kind):
        return None
    return seen.counted.value


def _error(seen: Seen | None) -> str:
    return seen.counted.error if seen is not None and seen.counted is not None else ""
