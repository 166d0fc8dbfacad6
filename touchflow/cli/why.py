"""`touchflow why`: every decision the planner makes for one customer, past and future."""

from __future__ import annotations

import json
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
from touchflow.plan.moment import BadMoment
from touchflow.plan.trace_model import CustomerStory
from touchflow.plan.trace_store import (
    DEFAULT_DAYS,
    DEFAULT_PAST,
    MAX_DAYS,
    WhyError,
    WhyRequest,
    customer_story,
    why_request,
)
from touchflow.project import Project, load_project_checked


@cli.command(name="why", epilog=EPILOG, short_help="Why a customer did or did not get a message.")
@project_option
@click.argument("customer")
@click.argument("rule", required=False)
@click.option(
    "--days",
    type=click.IntRange(1, MAX_DAYS),
    default=DEFAULT_DAYS,
    show_default=True,
    help="How many days ahead of --now to look.",
)
@click.option(
    "--past",
    "past",
    type=click.IntRange(0, MAX_DAYS),
    default=DEFAULT_PAST,
    show_default=True,
    help="How many days before --now to look back, with the outbox rows of what was due then.",
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="Pretend it is this instant (2026-12-24T09:00:00Z), or this day in the "
    "project's time zone (2026-12-24).",
)
@click.option(
    "--rule",
    "rule_option",
    metavar="ID",
    help="Only this rule id: RULE as an option, as the other commands take it.",
)
@click.option(
    "--category",
    type=click.Choice(["marketing", "transactional"]),
    help="Only the rules of this category.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json for scripts (docs/explain.md).",
)
@handle_errors
def why_command(
    project_dir: Path,
    customer: str,
    rule: str | None,
    days: int,
    past: int,
    now_text: str | None,
    rule_option: str | None,
    category: str | None,
    fmt: str,
) -> None:
    """Tell every decision the planner makes for CUSTOMER: for each rule (or only RULE,
    which --rule also gives), what its trigger found, when each touchpoint is due and
    why, each gate with the values it read, and for what was due in the last --past
    days, the outbox row: sent (when, Message-ID), retried, refused (the server's
    reply) or never there.
    A held or missing touchpoint names the first thing that stopped it, with the
    rule's file:line.

    Exit codes: 0 told · 2 no such customer or rule, or a bad argument.

    \b
    Examples:
      touchflow why c-004 birthday-card         why didn't c-004 get the birthday card?
      touchflow why c-001 --past 90             the last 90 days and the next 30
      touchflow why c-001 --category marketing --now 2026-12-10
      touchflow why c-004 --rule birthday-card  the same as the first
      touchflow why c-004 --format json | jq '.rules[].touchpoints[].stopped_by'
    """
    if rule is not None and rule_option is not None and rule != rule_option:
        raise arg_error("--rule", f"give RULE or --rule, not both ({rule!r}, {rule_option!r})")
    rule_name = "RULE" if rule_option is None else "--rule"
    rule = rule or rule_option
    project = load_project_checked(project_dir)
    moment = read_now(now_text, project.config.timezone)
    try:
        request = why_request(
            project, customer, moment, days=days, past=past, rule=rule, category=category
        )
    except WhyError as exc:
        raise arg_error(rule_name if exc.field == "rule" else f"--{exc.field}", str(exc)) from None
    except BadMoment as exc:
        raise arg_error("--days", str(exc)) from None
    story = run_async(_story(project, request))
    if fmt == "json":
        from touchflow.plan.trace_json import story_json

        click.echo(json.dumps(story_json(story), ensure_ascii=False, indent=2))
        return
    from touchflow.plan.trace_text import story_lines

    for line in story_lines(story):
        click.echo(line)


async def _story(project: Project, request: WhyRequest) -> CustomerStory:
    async with await app.open_store(project.config) as store:
        await app.ensure_sample(store, project.config, request.now, echo_err)
        return await customer_story(project, store, request)
