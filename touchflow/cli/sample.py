"""`touchflow sample`: load the project's sample, reload it (--reset), or remove it."""

from __future__ import annotations

from pathlib import Path

import click

from touchflow.cli import flows as app
from touchflow.cli.common import (
    EPILOG,
    arg_error,
    cli,
    handle_errors,
    parse_now,
    project_option,
    run_async,
)
from touchflow.cli.records import confirm, no_daemon
from touchflow.config.project_config import ProjectConfig, load_project
from touchflow.data.sample_store import remove_sample
from touchflow.errors import UserError
from touchflow.store import drop_store
from touchflow.words import counted


@cli.command(epilog=EPILOG, short_help="Load, remove or reset the project's sample data.")
@project_option
@click.option("--reset", is_flag=True, help="Delete the store first (asks), then load the sample.")
@click.option(
    "--remove",
    is_flag=True,
    help="Delete only the sample's customers, their events and touchpoints, and the "
    "sample's suppressions; keep everything else.",
)
@click.option(
    "--yes", is_flag=True, help="With --reset: do not ask (needed when not on a terminal)."
)
@click.option("--now", "now_text", metavar="ISO8601", help="Load it relative to this day.")
@handle_errors
def sample(project_dir: Path, reset: bool, remove: bool, yes: bool, now_text: str | None) -> None:
    """Load the project's sample data (dates relative to today) into an empty store.

    \b
    Examples:
      touchflow sample                    load it into an empty store
      touchflow sample --reset            start over: a new store with the sample
      touchflow sample --remove           before going live: real data stays
    """
    config = load_project(project_dir)
    if remove:
        if reset or now_text:
            raise arg_error("--remove", "goes alone: --reset and --now load the sample")
        _remove(config)
        return
    if config.sample_dir is None:
        raise UserError("this project has no `sample:` directory in touchflow.yaml")
    if not config.sample_dir.is_dir():
        raise UserError(
            f"touchflow.yaml names sample directory {config.sample_dir}, which does not exist"
        )
    now = parse_now(now_text, config.timezone)
    if reset and not app.store_missing(config.store_location()):
        if not _delete_store(config, yes=yes):
            return

    async def flow() -> None:
        async with await app.open_store(config) as store:
            if await store.customer_count():
                raise UserError(
                    "the store already holds customers; use --reset to replace them "
                    "(or --remove to take out only the sample's)"
                )
            await app.ensure_sample(store, config, now, click.echo, again=True)

    run_async(flow())


def _delete_store(config: ProjectConfig, *, yes: bool) -> bool:
    """`--reset`: delete the store once the user agrees; False if they did not."""
    question = f"Delete the store {app.shown_store(config)} ({_contents(config)})?"
    if not confirm(question, yes=yes):
        click.echo("Nothing was deleted.")
        return False
    # Not from under a running daemon: it would keep sending from a deleted file.
    with no_daemon(config, "deleting the store", command="touchflow sample --reset"):
        run_async(drop_store(config.store_location()))
    return True


def _contents(config: ProjectConfig) -> str:
    async def flow() -> str:
        async with await app.open_store(config) as store:
            people = await store.customer_count()
            rows = sum((await store.outbox_counts()).values())
        return f"{counted(people, 'customer')}, {counted(rows, 'touchpoint')} in the outbox"

    return run_async(flow())


def _remove(config: ProjectConfig) -> None:
    if app.store_missing(config.store_location()):
        click.echo("There is no store yet: nothing to remove.")
        return

    async def flow() -> str:
        async with await app.open_store(config) as store:
            removal = await remove_sample(store, config)
            if not (removal.customers or removal.suppressions):
                return "The store holds no sample data: nothing removed."
            return (
                f"Removed the sample data: {counted(removal.customers, 'customer')}, "
                f"{counted(removal.events, 'event')}, "
                f"{counted(removal.touchpoints, 'touchpoint')}, "
                f"{counted(removal.suppressions, 'suppression')}. "
                f"{counted(await store.customer_count(), 'customer')} remain."
            )

    with no_daemon(config, "removing the sample", command="touchflow sample --remove"):
        click.echo(run_async(flow()))
