"""``/console/rules``: each rule with its file and line, and what the running version
changes against a git revision of the project (``?base=``, default HEAD).

The diff is `touchflow diff`'s (and ``GET /v1/diff``'s): both versions planned over the
next ``DEFAULT_DAYS`` days, every key that differs, and what loading the running
version does to rows already in the outbox. The page lists the first ``SHOWN`` of each;
`touchflow diff --details` lists them all. Without git (or with a base that does not
load) the page says why and still lists the rules.

Each rule's volume over the next 30 days and a sample of its message come from
``touchflow.console.rules_volume``: one more planning of everyone per visit.
"""

from __future__ import annotations

import asyncio

from starlette.responses import Response

from touchflow.console.rules_volume import volumes
from touchflow.console.visit import Visit
from touchflow.errors import UserError
from touchflow.explain.diff import DEFAULT_DAYS, DiffReport, diff_request, run_diff
from touchflow.explain.diff_base import base_files, load_base
from touchflow.explain.diff_run import Versions
from touchflow.explain.diff_text import KIND_WORDS, change_lines, effect_line
from touchflow.plan.moment import Moment
from touchflow.plan.preview import window_text

SHOWN = 100  # changed keys listed, and outbox rows


async def rules_page(visit: Visit) -> Response:
    base = visit.request.query_params.get("base") or "HEAD"
    report: DiffReport | None = None
    problem = None
    try:
        report = await _diff(visit, base)
    except UserError as exc:  # not a git repository, no such revision, a base that fails
        problem = str(exc)
    summaries = {s.rule: s for s in report.rules} if report is not None else {}
    engine = visit.backing.engine
    coming = await volumes(engine.project, engine.store, engine.clock.now())
    return visit.show(
        "rules.html", title="Rules", rules=visit.backing.engine.project.rules, base=base,
        report=report, problem=problem, summaries=summaries, kind_words=KIND_WORDS,
        window=window_text(report.request.window, visit.tz) if report else "",
        changes=[list(change_lines(c)) for c in report.changes[:SHOWN]] if report else [],
        effects=[effect_line(e) for e in report.effects[:SHOWN]] if report else [],
        shown_most=SHOWN, coming=coming, coming_window=window_text(coming.window, visit.tz),
    )  # fmt: skip


async def _diff(visit: Visit, rev: str) -> DiffReport:
    engine = visit.backing.engine
    project = engine.project
    moment = Moment(instant=engine.clock.now(), timezone=visit.tz)
    with base_files(project.config.root, rev=rev, base_dir=None) as base:
        base_project = await asyncio.to_thread(load_base, base)
        request = diff_request(base_project, project, moment, days=DEFAULT_DAYS)
        versions = Versions.of(base_project, project, request.window)
        return await run_diff(base, versions, engine.store, request, workers=1)
