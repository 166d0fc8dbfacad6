"""`touchflow backtest`: what the rules as they are now would have sent over a past
period, against what the outbox shows was sent."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
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
from touchflow.explain.backtest import (
    CATEGORIES,
    BacktestError,
    BacktestReport,
    backtest_request,
    run_backtest,
)
from touchflow.explain.backtest_run import BacktestRequest
from touchflow.plan.moment import BadMoment, Moment, read_moment
from touchflow.project import Project, load_project_checked
from touchflow.words import counted

STORE_FAILED = 3
_DATE = "ISO8601"


@cli.command(name="backtest", epilog=EPILOG,
             short_help="What the rules would have sent over a past period.")  # fmt: skip
@project_option
@click.option(
    "--from",
    "from_text",
    metavar=_DATE,
    required=True,
    help="The period's start: a day in the project's time zone (2026-07-01) or an instant.",
)
@click.option(
    "--to",
    "to_text",
    metavar=_DATE,
    help="Its end: a day (the period includes it) or an instant [default: now].",
)
@click.option(
    "--now",
    "now_text",
    metavar=_DATE,
    help="Pretend it is this instant (2026-12-24T09:00:00Z), or this day in the project's "
    "time zone (2026-12-24): the period must end by then.",
)
@click.option("--rule", help="Only this rule.")
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
    "--as-happened",
    is_flag=True,
    help="Count each event from when it happened, not from when the store recorded it, "
    "and every customer as always there: for history imported lately.",
)
@click.option("--details", is_flag=True, help="List every key that differs (the JSON always does).")
@click.option(
    "--exit-code",
    is_flag=True,
    help="Exit 1 when the rules would have sent anything otherwise than was sent.",
)
@handle_errors
def backtest_command(
    project_dir: Path,
    from_text: str,
    to_text: str | None,
    now_text: str | None,
    rule: str | None,
    customer: str | None,
    category: str | None,
    fmt: str,
    as_happened: bool,
    details: bool,
    exit_code: bool,
) -> None:
    """Replay the stored events of a past period through the rules as they are now, as if
    the daemon had run then, each event from the moment it was recorded; and compare with
    what the outbox shows was sent: per rule and per day, what the rules would have sent,
    what was sent, and each touchpoint key that differs. Nothing is written. What a
    backtest cannot know (attributes are as they are now): docs/explain.md.

    Exit codes: 0 compared (with --exit-code: no difference) · 1 with --exit-code: a
    difference · 2 a bad argument or rules that do not validate · 3 the store could not
    be read.

    \b
    Examples:
      touchflow backtest --from 2026-07-01 --to 2026-09-30 --rule win-back
      touchflow backtest --from 2026-11-01                  November until now
      touchflow backtest --from 2026-11-01 --customer c-004 --details
      touchflow backtest --from 2026-07-01 --format json | jq '.rules'
    """
    project = load_project_checked(project_dir)
    now = read_now(now_text, project.config.timezone)
    filters = _Filters(rule=rule, customer=customer, category=category, as_happened=as_happened)
    request = _request(project, from_text, to_text, now, filters)
    try:
        report = run_async(_report(project, request, now))
    except StoreError as exc:
        echo_err(f"error: {exc}")
        sys.exit(STORE_FAILED)
    if fmt == "json":
        from touchflow.explain.backtest_json import report_json

        click.echo(json.dumps(report_json(report), ensure_ascii=False, indent=2))
    else:
        from touchflow.explain.backtest_text import report_lines

        for line in report_lines(report, details=details):
            click.echo(line)
    if exit_code and not report.same:
        sys.exit(1)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Filters:
    rule: str | None
    customer: str | None
    category: str | None
    as_happened: bool


def _request(
    project: Project, from_text: str, to_text: str | None, now: Moment, filters: _Filters
) -> BacktestRequest:
    tz = project.config.timezone
    start = _moment("--from", from_text, tz)
    end = None if to_text is None else _moment("--to", to_text, tz)
    try:
        return backtest_request(
            project, start, end, now, customer=filters.customer, rule=filters.rule,
            category=filters.category, as_happened=filters.as_happened,
        )  # fmt: skip
    except BacktestError as exc:
        raise arg_error(f"--{exc.field}", str(exc)) from None


def _moment(option: str, text: str, tz: str) -> Moment:
    try:
        return read_moment(text, tz)
    except BadMoment as exc:
        raise arg_error(option, str(exc)) from None


async def _report(project: Project, request: BacktestRequest, now: Moment) -> BacktestReport:
    async with await app.open_store(project.config) as store:
        await app.ensure_sample(store, project.config, now.instant, echo_err)
        started = time.perf_counter()
        if request.customer is None:  # one customer's replay is told no progress
            echo_err(f"Replaying {counted(await store.customer_count(), 'customer')}…")
        try:
            report = await run_backtest(project, store, request, now=now.instant)
        except BacktestError as exc:
            raise arg_error(f"--{exc.field}", str(exc)) from None
        echo_err(f"Replayed in {time.perf_counter() - started:.1f} s.")
        return report
