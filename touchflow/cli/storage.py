"""`touchflow store`: the store itself, whichever it is (a SQLite file, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import click

from touchflow.cli import flows as app
from touchflow.cli.common import EPILOG, cli, handle_errors, project_option, run_async
from touchflow.config.project_config import load_project
from touchflow.store import migrate_store


@cli.group(name="store", short_help="The store itself: its schema.")
def store_group() -> None:
    """The store itself: where touchflow.yaml's `store:` (or TOUCHFLOW_STORE_URL) points."""


@store_group.command(
    epilog=EPILOG, short_help="Create or upgrade the store's schema; say its version."
)
@project_option
@handle_errors
def migrate(project_dir: Path) -> None:
    """Create the store's schema, or upgrade it to this touchflow's version, and say
    which version it has. Every command that opens the store does this too; run it
    on its own before starting daemons of a new version. A store whose schema is
    newer than this touchflow knows is refused (exit 1): it was written by a later one.
    """
    config = load_project(project_dir)
    before, after = run_async(migrate_store(config.store_location()))
    where = app.shown_store(config)
    if before is None or before == after:
        click.echo(f"Store {where}: schema version {after}.")
    elif before == 0:
        click.echo(f"Store {where}: created, schema version {after}.")
    else:
        click.echo(f"Store {where}: schema version {after} (upgraded from {before}).")
