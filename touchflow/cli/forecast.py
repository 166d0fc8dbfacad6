"""`touchflow forecast`: everyone's upcoming sends counted per day, hour, week, rule or
category, against the relay's rate limit and the marketing cap; nothing is rendered."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from touchflow.errors import InputError, Problem
from touchflow.models import Category
from touchflow.plan.forecast import (
    ForecastRequest,
    GroupBy,
    UnknownCustomers,
    frequency_for,
    no_customer,
)
from touchflow.plan.moment import BadMoment, Moment
from touchflow.project import Project, load_project_checked

if TYPE_CHECKING:
    from touchflow.plan.forecast_summary import Forecast


@cli.command(
    name="forecast",
    epilog=EPILOG,
    short_help="Count what goes out per day, hour or rule; check the rate limit.",
)
@project_option
@click.option(
    "--days",
    type=click.IntRange(1, 3660),
    default=90,
    show_default=True,
    help="How many days ahead of --now: whole local days from a date, DAYS x 24 hours "
    "from an instant (as `touchflow preview`).",
)
@click.option(
    "--by",
    type=click.Choice([g.value for g in GroupBy]),
    default="day",
    show_default=True,
    help="What each row is: a local day (a calendar heat map), week, hour, rule or category.",
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="Pretend it is this instant (2026-12-01T09:00:00Z), or this day in the "
    "project's time zone (2026-12-01).",
)
@click.option(
    "--customer",
    "customers",
    multiple=True,
    metavar="ID",
    help="Only this customer, read by id (repeat it for several); default: everyone.",
)
@click.option("--rule", "rule_id", help="Only this rule id.")
@click.option(
    "--category", type=click.Choice([c.value for c in Category]), help="Only this category."
)
@click.option(
    "--over",
    type=click.IntRange(0, None),
    help="Count customers with more than N marketing messages in a cap period (7 days "
    "without a marketing cap); default: the marketing cap's max.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for people; json (docs/explain.md) or csv (one line per --by group) for scripts.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    help="Processes that plan (default: one per core, at most 4, fewer for small stores; "
    "1 = all in this process).",
)
@handle_errors
def forecast_command(
    project_dir: Path,
    days: int,
    by: str,
    now_text: str | None,
    customers: tuple[str, ...],
    rule_id: str | None,
    category: str | None,
    over: int | None,
    fmt: str,
    jobs: int | None,
) -> None:
    """Count every touchpoint due in the next DAYS days, for everyone, without rendering:
    per day (a calendar heat map), week, hour, rule or category; the peak days and hours
    against the relay's rate limit (delivery.smtp.rate); the customers who get more
    marketing than the cap allows; what is held and why.

    Totals are those of `touchflow preview --all` for the same window, but for holds
    only rendering finds (render_error, invalid_message): a forecast renders nothing.
    With --customer, only the customers named are read and planned.

    Exit codes: 0 counted (a rate warning too) · 1 the store could not be read · 2 a
    bad argument (an unknown --rule or --customer) or a mistake in the project.

    \b
    Examples:
      touchflow forecast                                the next 90 days, per day
      touchflow forecast --now 2026-12-01 --days 1 --by hour
                                                        1 December, hour by hour
      touchflow forecast --by rule --category marketing
      touchflow forecast --customer c-001 --by week     what one customer gets
      touchflow forecast --format csv --by week > weeks.csv
      touchflow forecast --over 2 --format json | jq .frequency
    """
    project = load_project_checked(project_dir)
    moment = read_now(now_text, project.config.timezone)
    request = _request(
        project, moment, days, by=by, customers=customers, rule_id=rule_id,
        category=category, over=over,
    )  # fmt: skip
    try:
        fc = run_async(_forecast(project, request, moment, jobs))
    except UnknownCustomers as exc:
        raise InputError([Problem(path="--customer", line=None, message=no_customer(c))
                          for c in exc.ids]) from None  # fmt: skip
    _print(fc, fmt)


def _request(
    project: Project,
    moment: Moment,
    days: int,
    *,
    by: str,
    customers: tuple[str, ...],
    rule_id: str | None,
    category: str | None,
    over: int | None,
) -> ForecastRequest:
    """What to count: --rule checked against the rules, --days counted from --now."""
    if rule_id is not None and rule_id not in {r.id for r in project.rules}:
        raise arg_error(
            "--rule", f"no rule {rule_id!r}; rules: {', '.join(r.id for r in project.rules)}"
        )
    try:
        window = moment.window(days)
    except BadMoment as exc:
        raise arg_error("--days", str(exc)) from None
    return ForecastRequest(
        window=window,
        timezone=project.config.timezone,
        by=GroupBy(by),
        customers=tuple(dict.fromkeys(customers)),  # as given, once each
        rule=rule_id,
        category=Category(category) if category else None,
        frequency=frequency_for(project.config.caps, over),
    )


async def _forecast(
    project: Project, request: ForecastRequest, moment: Moment, jobs: int | None
) -> Forecast:
    from touchflow.plan.forecast_store import forecast

    async with await app.open_store(project.config) as store:
        await app.ensure_sample(store, project.config, moment.instant, echo_err)
        customers = len(request.customers) or await store.customer_count()
        with _progress(customers) as progress:
            return await forecast(project, store, request, workers=jobs, progress=progress)


@contextmanager
def _progress(customers: int) -> Iterator[Callable[[int], None] | None]:
    """A line on standard error while a large store is planned (only on a terminal): the
    customers planned in this process (the others' ranges are planned meanwhile)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal or customers < 10_000:
        yield None
        return
    done = 0
    with console.status(f"Planning {customers:,} customers…") as status:

        def planned(n: int) -> None:
            nonlocal done
            done += n
            status.update(f"Planning {customers:,} customers… {done:,} done in this process")

        yield planned


def _print(fc: Forecast, fmt: str) -> None:
    from touchflow.plan import forecast_views

    if fmt == "json":
        import json

        click.echo(json.dumps(forecast_views.as_json(fc), ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(forecast_views.as_csv(fc), nl=False)
    else:
        from rich.console import Console

        from touchflow.plan.forecast_table import print_forecast

        print_forecast(fc, Console(width=None if sys.stdout.isatty() else 100))
