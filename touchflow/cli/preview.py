"""`touchflow preview`: what the planner would send in a window, rendered; nothing is sent."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from touchflow.cli import flows as app
from touchflow.cli.common import (
    EPILOG,
    arg_error,
    cli,
    echo_err,
    handle_errors,
    project_option,
    read_now,
    run_async,
)
from touchflow.config.http import UNSUBSCRIBE_SECRET_ENV
from touchflow.plan.from_store import PlanRequest, plan_from_store
from touchflow.plan.moment import BadMoment, Moment
from touchflow.project import Project
from touchflow.store import Store

if TYPE_CHECKING:
    from touchflow.plan import preview


@cli.command(
    name="preview", epilog=EPILOG, short_help="Show what would be sent, rendered; send nothing."
)
@project_option
@click.option(
    "--days",
    type=click.IntRange(1, 3660),
    default=7,
    show_default=True,
    help="How many days ahead of --now to look: whole local days from a date, "
    "DAYS x 24 hours from an instant.",
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="Pretend it is this instant (2026-12-24T09:00:00Z), or this day in the "
    "project's time zone (2026-12-24).",
)
@click.option("--customer", help="Only this customer id.")
@click.option("--rule", "rule_id", help="Only this rule id.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "eml"]),
    default="table",
    show_default=True,
    help="table for people, json for scripts, eml for the exact messages.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("preview-eml"),
    show_default=True,
    help="With --format eml: where to write the .eml files.",
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Include held touchpoints with their reasons (cancelled, capped, "
    "suppressed, no_consent, condition_false…) and, in the table, the specifics.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    help="With --format json: processes that plan and render (default: one per core, "
    "at most 4, fewer for small stores; 1 = all in this process).",
)
@handle_errors
def preview_command(
    project_dir: Path,
    days: int,
    now_text: str | None,
    customer: str | None,
    rule_id: str | None,
    fmt: str,
    out_dir: Path,
    show_all: bool,
    jobs: int | None,
) -> None:
    """Show every touchpoint due in the next DAYS days, rendered, without sending anything.

    With --now DATE the window is DAYS whole days in the project's time zone,
    midnight to midnight (23 or 25 hours on a day the clocks change); the
    header shows its real span.

    \b
    Examples:
      touchflow preview                            the next 7 days as tables
      touchflow preview --days 366 --all           a year, with held ones and why
      touchflow preview --now 2026-12-24 --days 1  what goes out on Christmas Eve
      touchflow preview --customer c-001 --format json
      touchflow preview --format eml --out /tmp/mails
    """
    # The renderer and rich's tables load here, not when any `touchflow` command starts.
    from touchflow.plan import preview

    # The messages carry the daemon's unsubscribe links (placeholders without the secret).
    project = preview.load_for_preview(project_dir)
    moment = read_now(now_text, project.config.timezone)
    now = moment.instant
    request = _request(project, moment, days, customer=customer, rule_id=rule_id)
    if fmt == "json":  # a page of customers at a time: fit for a million customers
        run_async(_preview_json(project, request, now, show_all, jobs))
        return
    items = run_async(_preview(project, request, now))
    shown = items if show_all else [i for i in items if i.touchpoint.reason is None]
    if fmt == "eml":
        _write_eml(project, shown, out_dir)
    else:
        _print_table(project, shown, request, show_all)


def _request(
    project: Project, moment: Moment, days: int, *, customer: str | None, rule_id: str | None
) -> PlanRequest:
    """What to plan: --rule checked against the rules, --days counted from --now."""
    if rule_id is not None and rule_id not in {r.id for r in project.rules}:
        raise arg_error(
            "--rule", f"no rule {rule_id!r}; rules: {', '.join(r.id for r in project.rules)}"
        )
    try:
        window = moment.window(days)
    except BadMoment as exc:
        raise arg_error("--days", str(exc)) from None
    return PlanRequest(window=window, customer=customer, rule=rule_id)


def _write_eml(project: Project, shown: list[preview.PreviewItem], out_dir: Path) -> None:
    if project.unsubscribe is not None and not os.environ.get(UNSUBSCRIBE_SECRET_ENV):
        echo_err(f"note: {UNSUBSCRIBE_SECRET_ENV} is not set: the one-click unsubscribe links "
                 "in these messages are placeholders that the daemon rejects")  # fmt: skip
    from touchflow.plan import preview

    written = preview.write_eml(shown, out_dir)
    click.echo(f"Wrote {len(written)} messages to {out_dir}/")


async def _preview(
    project: Project, request: PlanRequest, now: datetime
) -> list[preview.PreviewItem]:
    async with _preview_store(project, request, now) as store:
        touchpoints = await plan_from_store(project, store, request)
    from touchflow.plan import preview

    return preview.render_all(project, touchpoints)


async def _preview_json(
    project: Project, request: PlanRequest, now: datetime, show_all: bool, jobs: int | None
) -> None:
    from touchflow.cli import preview_json

    async with _preview_store(project, request, now) as store:
        await preview_json.write_json(
            project, store, request, sys.stdout, show_all=show_all, workers=jobs
        )


@asynccontextmanager
async def _preview_store(
    project: Project, request: PlanRequest, now: datetime
) -> AsyncIterator[Store]:
    async with await app.open_store(project.config) as store:
        await app.ensure_sample(store, project.config, now, echo_err)
        if request.customer and await store.get_customer(request.customer) is None:
            raise arg_error("--customer", f"no customer {request.customer!r} in the store")
        yield store


def _print_table(
    project: Project, items: list[preview.PreviewItem], request: PlanRequest, show_all: bool
) -> None:
    from rich.console import Console

    from touchflow.plan import preview

    console = Console(width=None if sys.stdout.isatty() else 160)
    span = preview.window_text(request.window, project.config.timezone)
    planned = sum(1 for i in items if i.touchpoint.reason is None)
    console.print(
        f"Touchpoints due {span}: "
        f"{planned} planned" + (f", {len(items) - planned} held" if show_all else "")
    )
    if not items:
        console.print("Nothing is due in this window. Try --days 30, or --all to see held ones.")
        return
    preview.print_table(project, items, console, show_held=show_all, rule_id=request.rule)
