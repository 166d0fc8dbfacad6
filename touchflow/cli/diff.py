"""`touchflow diff`: what a change to rules, templates or touchflow.yaml will send differently."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

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
from touchflow.errors import StoreError
from touchflow.explain.diff import (
    CATEGORIES,
    DEFAULT_DAYS,
    MAX_DAYS,
    DiffError,
    DiffReport,
    diff_request,
    run_diff,
)
from touchflow.explain.diff_base import Base, base_files, load_base
from touchflow.explain.diff_run import DiffRequest, Versions
from touchflow.plan.moment import BadMoment
from touchflow.project import Project, load_project_checked
from touchflow.words import counted

STORE_FAILED = 3


@cli.command(name="diff", epilog=EPILOG, short_help="What a change to the rules will do, to whom.")
@project_option
@click.option(
    "--base",
    "rev",
    metavar="GIT-REV",
    help="Compare with the project at this git revision (default: HEAD).",
)
@click.option(
    "--base-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Compare with the project in this directory (another checkout) instead.",
)
@click.option(
    "--days",
    type=click.IntRange(1, MAX_DAYS),
    default=DEFAULT_DAYS,
    show_default=True,
    help="How many days ahead of --now to compare.",
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="Pretend it is this instant "
    "(2026-12-24T09:00:00Z), or this day in the project's time zone (2026-12-24).",
)
@click.option("--rule", help="Only this rule (of either version).")
@click.option("--customer", help="Only this customer id.")
@click.option("--category", type=click.Choice(CATEGORIES), help="Only this category.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json for scripts (docs/explain.md).",
)
@click.option(
    "--details",
    is_flag=True,
    help="List every key that changed, and every outbox row it touches (the JSON always does).",
)
@click.option(
    "--exit-code",
    is_flag=True,
    help="Exit 1 when anything changes, 0 when nothing does: a check for a pull request.",
)
@handle_errors
def diff_command(
    project_dir: Path,
    rev: str | None,
    base_dir: Path | None,
    days: int,
    now_text: str | None,
    rule: str | None,
    customer: str | None,
    category: str | None,
    fmt: str,
    details: bool,
    exit_code: bool,
) -> None:
    """Plan the store's customers with the base version (git HEAD, or --base REV, or
    --base-dir DIR) and with the working tree over the next --days days, and show what
    differs: touchpoints added, no longer sent, moved, now held or now planned (with
    both reasons), messages whose subject or text changed; and what the daemon would do
    to the rows already in its outbox when it loads the change. Nothing is written.

    Exit codes: 0 compared (with --exit-code: nothing changes) · 1 with --exit-code:
    something changes · 2 a bad argument, a version that does not validate, not a git
    repository or an unknown revision · 3 the store could not be read.

    \b
    Examples:
      touchflow diff                                what my uncommitted change does
      touchflow diff --base origin/main --exit-code in CI, on a pull request
      touchflow diff --rule monthly-sale --details  every key of one rule
      touchflow diff --base-dir ../prod --format json | jq '.rules'
    """
    if rev is not None and base_dir is not None:
        raise arg_error("--base-dir", "give --base or --base-dir, not both")
    project = load_project_checked(project_dir)
    with base_files(project_dir, rev=rev, base_dir=base_dir) as base:
        versions, request = _prepare(
            project, load_base(base), now_text, days, rule, customer, category
        )
        try:
            report = run_async(_report(project, base, versions, request))
        except StoreError as exc:
            echo_err(f"error: {exc}")
            sys.exit(STORE_FAILED)
    if fmt == "json":
        from touchflow.explain.diff_json import report_json

        click.echo(json.dumps(report_json(report), ensure_ascii=False, indent=2))
    else:
        from touchflow.explain.diff_text import report_lines

        for line in report_lines(report, project.config.timezone, details=details):
            click.echo(line)
    if exit_code and report.changed:
        sys.exit(1)


def _prepare(
    project: Project,
    base: Project,
    now_text: str | None,
    days: int,
    rule: str | None,
    customer: str | None,
    category: str | None,
) -> tuple[Versions, DiffRequest]:
    moment = read_now(now_text, project.config.timezone)
    try:
        request = diff_request(
            base, project, moment, days=days, customer=customer, rule=rule, category=category
        )
    except DiffError as exc:
        raise arg_error(f"--{exc.field}", str(exc)) from None
    except BadMoment as exc:
        raise arg_error("--days", str(exc)) from None
    return Versions.of(base, project, request.window), request


async def _report(
    project: Project, base: Base, versions: Versions, request: DiffRequest
) -> DiffReport:
    async with await app.open_store(project.config) as store:
        await app.ensure_sample(store, project.config, request.now, echo_err)
        started = time.perf_counter()
        count = 1 if request.customer else await store.customer_count()
        echo_err(f"Planning {counted(count, 'customer')} with {base.label} and the working tree…")
        try:
            report = await run_diff(base, versions, store, request)
        except DiffError as exc:
            raise arg_error(f"--{exc.field}", str(exc)) from None
        echo_err(f"Compared in {time.perf_counter() - started:.1f} s.")
        return report
