"""Rendering: touchflow's renderer vs the bare compiled Jinja template on the same context.

    python bench/render.py [--customers 3000] [--rounds 5] [--smoke]

Plans a generated project (bench/gen.py) over 30 days, then renders every
planned touchpoint (subject, text and HTML) with (a) `TemplateSet.render`
(sandbox, StrictUndefined, empty-value guard, locale fallback) and (b) a plain
`jinja2.Environment` with the same sources, filters and values, interleaved
round by round. Prints one line per figure; the target is a ratio ≥ 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen

from touchflow.messages.filters import FILTERS
from touchflow.messages.locales import babel_locale
from touchflow.models import PlannedTouchpoint, Status, Window
from touchflow.plan.planner import plan
from touchflow.project import Project, load_project_checked
from touchflow.store.sqlite import SqliteStore

NOW = datetime.fromisoformat("2026-11-23T08:00:00+00:00")
# What a marketing message's footer shows (touchflow.messages.build fills it in for real).
MESSAGE = {"unsubscribe_url": "mailto:unsubscribe@lumen.example", "postal_address": "1 Main St"}


def planned(project_dir: Path) -> tuple[Project, list[PlannedTouchpoint]]:
    project = load_project_checked(project_dir)

    async def facts() -> Any:
        async with await SqliteStore.open(project.config.store_file()) as store:
            return await store.load_facts()

    tps = plan(project.rules, asyncio.run(facts()), window=Window.of_days(NOW, 30),
               config=project.config)  # fmt: skip
    chosen = [tp for tp in tps if tp.status is Status.PLANNED]
    for tp in chosen:
        dict(tp.context)  # contexts are built lazily: not inside the first timed round
    return project, chosen


def bare_renderers(project: Project) -> dict[str, list[jinja2.Template]]:
    layouts = project.config.templates_dir / "_layouts"  # what {% extends %} finds
    env = jinja2.Environment(
        loader=jinja2.DictLoader({p.name: p.read_text("utf-8") for p in layouts.glob("base.*")}),
        autoescape=jinja2.select_autoescape(["html"]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    compiled: dict[str, list[jinja2.Template]] = {}
    for name in project.templates.names():
        # The root-locale files: subject, body, html (what most customers get).
        sources = [s for s in project.templates.sources(name) if s.locale is None]
        root = project.config.root
        compiled[name] = [
            env.from_string((root / s.display_path).read_text(encoding="utf-8")) for s in sources
        ]
    return compiled


def run_touchflow(project: Project, tps: list[PlannedTouchpoint]) -> float:
    started = time.perf_counter()
    for tp in tps:
        context = {**tp.context, "message": MESSAGE}
        project.templates.render(tp.template, locale=None, timezone=tp.timezone, context=context)
    return time.perf_counter() - started


def run_bare(project: Project, compiled: dict[str, list[jinja2.Template]],
             tps: list[PlannedTouchpoint]) -> float:  # fmt: skip
    locale = babel_locale(project.config.locale)
    started = time.perf_counter()
    for tp in tps:
        values = {**tp.context, "_tf_locale": locale, "_tf_timezone": ZoneInfo(tp.timezone),
                  "message": {**MESSAGE, "subject": "Subject"}}  # fmt: skip
        for template in compiled[tp.template]:
            template.render(values)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI; no timing")
    args = parser.parse_args(argv)
    if args.smoke:
        args.customers, args.rounds = 200, 1
    with tempfile.TemporaryDirectory() as tmp:
        out = gen.make_project(Path(tmp) / "project")
        asyncio.run(gen.fill_store(out, args.customers, seed=1, now=NOW))
        project, tps = planned(out)
        compiled = bare_renderers(project)
    rates: dict[str, list[float]] = {"touchflow": [], "bare": []}
    for _ in range(args.rounds):
        rates["touchflow"].append(len(tps) / run_touchflow(project, tps))
        rates["bare"].append(len(tps) / run_bare(project, compiled, tps))
    print(f"render.touchpoints {len(tps)}")
    for name, values in rates.items():
        print(f"render.{name}_per_s {statistics.median(values):.0f}")
        print(f"render.{name}_min_max {min(values):.0f} {max(values):.0f}")
    ratio = statistics.median(rates["touchflow"]) / statistics.median(rates["bare"])
    print(f"render.ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
