"""The `touchflow` command: the project commands, and every other command registered."""

from __future__ import annotations

from pathlib import Path

import click

from touchflow import clock
from touchflow.cli import flows as app
from touchflow.cli.common import (
    EPILOG,
    cli,
    handle_errors,
    project_option,
    run_async,
)
from touchflow.config.project_config import load_project
from touchflow.data.suppressions import parse_suppression_email
from touchflow.models import Suppression, SuppressionScope
from touchflow.project import load_project_checked, project_warnings
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
    event data, derived values), so a typo is caught here, not in an inbox. Warnings (a
    marketing message without an unsubscribe link, no postal address, a message in two
    languages, a text longer than delivery.sms.max_segments, a marketing text without
    STOP) go to stderr and do not change the exit code.
    """
    project = load_project_checked(project_dir)
    files = len({r.path for r in project.rules})
    warnings = project_warnings(project)
    for warning in warnings:
        click.echo(str(warning), err=True)
    noted = f" ({counted(len(warnings), 'warning')} above)" if warnings else ""
    click.echo(
        f"OK: {len(project.rules)} rules in {files} files, "
        f"{len(project.templates.names())} templates — no problems found{noted}."
    )


@cli.command(
    epilog=EPILOG, short_help="Stop sending (marketing, or everything) to an address or number."
)
@project_option
@click.argument("email", metavar="ADDRESS")
@click.option(
    "--category",
    type=click.Choice(["marketing", "all"]),
    default="marketing",
    show_default=True,
    help="marketing: no marketing; all: nothing at all.",
)
@click.option("--reason", help="Why (kept with the suppression).")
@handle_errors
def suppress(project_dir: Path, email: str, category: str, reason: str | None) -> None:
    """Stop sending to ADDRESS: marketing only (default) or everything.

    ADDRESS is an e-mail address, or a phone number (+4915112345678; a national
    number is read in the project's country): a suppressed number gets no texts."""
    config = load_project(project_dir)
    address = parse_suppression_email(email, source="ADDRESS", country=config.country)
    entry = Suppression(
        email=address, scope=SuppressionScope(category), reason=reason, created_at=clock.now()
    )

    async def flow() -> None:
        async with await app.open_store(config) as store:
            await store.add_suppression(entry)

    run_async(flow())
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
    backtest,
    cancel,
    console,
    daemon,
    diff,
    event,
    forecast,
    imports,
    preview,
    records,
    sample,
    storage,
    why,
)
