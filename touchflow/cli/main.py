"""The `touchflow` command: the project commands, and every other command registered."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from touchflow import clock
from touchflow.cli import flows as app
from touchflow.cli.common import (
    EPILOG,
    _arg_error,
    _err,
    _run,
    cli,
    handle_errors,
    project_option,
    read_now,
)
from touchflow.cli.preview_json import json_elements_in_processes
from touchflow.cli.progress_bars import import_progress
from touchflow.config.http import UNSUBSCRIBE_SECRET_ENV
from touchflow.config.project_config import load_project
from touchflow.data import sample_store
from touchflow.data.importer import parse_suppression_email
from touchflow.models import Suppression, SuppressionScope
from touchflow.plan import preview
from touchflow.plan.from_store import PlanRequest, plan_from_store, plan_pages
from touchflow.plan.moment import BadMoment
from touchflow.project import Project, load_project_checked
from touchflow.store import CustomersWrite, Store
from touchflow.words import counted


@cli.command(
    epilog=EPILOG, short_help="Check touchflow.yaml, rules and templates; list each problem."
)
@project_option
@handle_errors
def validate(project_dir: Path) -> None:
    """Check touchflow.yaml, every rule and every template; exit 2 listing each problem.

    Templates are compiled and every variable they use is checked against what
    the rules that use them provide (customer fields, declared attributes and
    event data, derived values), so a typo is caught here, not in an inbox.
    """
    project = load_project_checked(project_dir)
    files = len({r.path for r in project.rules})
    click.echo(
        f"OK: {len(project.rules)} rules in {files} files, "
        f"{len(project.templates.names())} templates — no problems found."
    )


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
    # The messages carry the daemon's unsubscribe links (placeholders without the secret).
    project = preview.load_for_preview(project_dir)
    moment = read_now(now_text, project.config.timezone)
    now = moment.instant
    if rule_id is not None and rule_id not in {r.id for r in project.rules}:
        raise _arg_error(
            "--rule", f"no rule {rule_id!r}; rules: {', '.join(r.id for r in project.rules)}"
        )
    try:
        window = moment.window(days)
    except BadMoment as exc:
        raise _arg_error("--days", str(exc)) from None
    request = PlanRequest(window=window, customer=customer, rule=rule_id)
    if fmt == "json":  # a page of customers at a time: fit for a million customers
        _run(_preview_json(project, request, now, show_all, jobs))
        return
    items = _run(_preview(project, request, now))
    shown = items if show_all else [i for i in items if i.touchpoint.reason is None]
    if fmt == "eml":
        if project.unsubscribe is not None and not os.environ.get(UNSUBSCRIBE_SECRET_ENV):
            _err(f"note: {UNSUBSCRIBE_SECRET_ENV} is not set: the one-click unsubscribe links "
                 "in these messages are placeholders that the daemon rejects")  # fmt: skip
        written = preview.write_eml(shown, out_dir)
        click.echo(f"Wrote {len(written)} messages to {out_dir}/")
    else:
        _print_table(project, shown, request, show_all)


async def _preview(
    project: Project, request: PlanRequest, now: datetime
) -> list[preview.PreviewItem]:
    async with _preview_store(project, request, now) as store:
        touchpoints = await plan_from_store(project, store, request)
    return preview.render_all(project, touchpoints)


async def _preview_json(
    project: Project, request: PlanRequest, now: datetime, show_all: bool, jobs: int | None
) -> None:
    async with _preview_store(project, request, now) as store:
        root = project.config.root
        elements = await json_elements_in_processes(
            root, store, request, show_all=show_all, workers=jobs
        )
        if elements is None:
            pages = plan_pages(project, store, request)
            elements = await preview.json_elements(project, pages, show_all=show_all)
    preview.write_elements(elements, sys.stdout)


@asynccontextmanager
async def _preview_store(
    project: Project, request: PlanRequest, now: datetime
) -> AsyncIterator[Store]:
    async with await app.open_store(project.config) as store:
        await app.ensure_sample(store, project.config, now, _err)
        if request.customer and await store.get_customer(request.customer) is None:
            raise _arg_error("--customer", f"no customer {request.customer!r} in the store")
        yield store


def _print_table(
    project: Project, items: list[preview.PreviewItem], request: PlanRequest, show_all: bool
) -> None:
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


@cli.group(name="import", short_help="Import customers or events from a file (all rows or none).")
def import_group() -> None:
    """Import customers or events from a file (all rows or none)."""


@import_group.command(
    name="customers",
    epilog=EPILOG,
    short_help="Import customers from a .csv or .jsonl file; upsert by id.",
)
@project_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@handle_errors
def import_customers(project_dir: Path, file: Path) -> None:
    """Import customers from FILE (.csv with a header row, or .jsonl); re-import upserts by id.

    Core fields: id, email, phone, first_name, last_name, timezone (IANA),
    locale, country (ISO 3166), birthday and customer_since (YYYY-MM-DD),
    consent_marketing (true/false). Every other column is an attribute
    (customer.<column> in templates once declared in touchflow.yaml).
    A CSV file whose header row has ';' and no ',' is read with ';' between
    cells, as spreadsheets save it in many locales. A bad row is reported with
    its line and nothing from the file is imported. Says how many customers
    were new, updated and unchanged; on a terminal, shows its progress.
    """
    config = load_project(project_dir)

    async def flow() -> tuple[CustomersWrite, list[str]]:
        with import_progress(file) as progress:
            async with await app.open_store(config) as store:
                written, ids = await app.import_customers(
                    store, config, file, now=clock.now(), progress=progress
                )
                return written, await sample_store.after_import(store, config, ids)

    written, notes = _run(flow())
    counts = {"new": written.new, "updated": written.updated, "unchanged": written.unchanged}
    parts = ", ".join(f"{count} {what}" for what, count in counts.items() if count)
    click.echo(
        f"Imported {counted(written.total, 'customer')} from {file}"
        + (f": {parts}." if parts else ".")
    )
    for note in notes:
        _err(note)


@import_group.command(
    name="events", epilog=EPILOG, short_help="Import events from a .jsonl file; each event id once."
)
@project_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@handle_errors
def import_events(project_dir: Path, file: Path) -> None:
    """Import events from FILE.jsonl: one {"id","type","customer","at","data"} per line.

    `at` needs a UTC offset (2026-05-01T10:00:00+02:00 or ...Z). Event ids make
    this idempotent: importing the same file twice adds nothing the second time.
    A customer not in the store, or an id already recorded for a different
    event, is reported with its line and nothing from the file is imported.
    """
    config = load_project(project_dir)

    async def flow() -> tuple[int, int]:
        with import_progress(file) as progress:
            async with await app.open_store(config) as store:
                return await app.import_events(store, config, file, progress)

    added, known = _run(flow())
    click.echo(
        f"Imported {counted(added, 'event')} from {file}"
        + (f" ({known} already known)." if known else ".")
    )


@cli.command(epilog=EPILOG, short_help="Stop sending (marketing, or all mail) to EMAIL.")
@project_option
@click.argument("email")
@click.option(
    "--category",
    type=click.Choice(["marketing", "all"]),
    default="marketing",
    show_default=True,
    help="marketing: no marketing mail; all: no mail at all.",
)
@click.option("--reason", help="Why (kept with the suppression).")
@handle_errors
def suppress(project_dir: Path, email: str, category: str, reason: str | None) -> None:
    """Stop sending to EMAIL: marketing only (default) or everything."""
    config = load_project(project_dir)
    address = parse_suppression_email(email)
    entry = Suppression(
        email=address, scope=SuppressionScope(category), reason=reason, created_at=clock.now()
    )

    async def flow() -> None:
        async with await app.open_store(config) as store:
            await store.add_suppression(entry)

    _run(flow())
    click.echo(f"Suppressed {address} ({category}).")


@cli.command(
    epilog=EPILOG, short_help="Create a new project: config, a rule, a template, sample data."
)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def init(directory: Path) -> None:
    """Create a new project in DIRECTORY: config, one rule, one template, sample data."""
    from touchflow.cli.scaffold import scaffold

    created = scaffold(directory)
    click.echo(
        f"Created {len(created)} files in {directory}/. Next:\n"
        f"  cd {directory} && touchflow validate && touchflow preview --days 30"
    )


def main() -> None:
    cli(prog_name="touchflow")


# Each module registers its commands on `cli` when imported.
from touchflow.cli import (  # noqa: E402, F401
    daemon,
    event,
    records,
    sample,
)
