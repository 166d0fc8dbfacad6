"""`touchflow cancel`: hold touchpoints by hand, next to `touchflow retry` which lifts it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from touchflow.cli import flows as app
from touchflow.cli.common import EPILOG, cli, echo_err, handle_errors, project_option, run_async
from touchflow.clock import Clock
from touchflow.config.project_config import load_project
from touchflow.config.store import StoreLocation
from touchflow.errors import UserError
from touchflow.send import hand_cancel
from touchflow.store import open_store


@cli.command(epilog=EPILOG, short_help="Cancel pending touchpoints by hand (retry undoes it).")
@project_option
@click.argument("keys", metavar="KEY...", nargs=-1, required=True)
@handle_errors
def cancel(project_dir: Path, keys: tuple[str, ...]) -> None:
    """Cancel the touchpoints KEY... by hand: they are not sent, whatever the plan says.

    A pending or retrying touchpoint becomes cancelled (reason cancelled_by_hand,
    and when and where in its detail). Re-planning leaves it cancelled, even when
    the rules still send it. To send it after all: `touchflow retry KEY`.

    One being sent right now (claimed), or already sent, failed, expired,
    cancelled or suppressed by the plan, is not cancelled: the command says why,
    cancels the other keys and exits 2. Keys are in `touchflow outbox` and
    `touchflow why CUSTOMER`.
    """
    config = load_project(project_dir)
    lines, refused = run_async(_cancel(config.store_location(), keys))
    for line in lines:
        click.echo(line)
    for message in refused:
        echo_err(f"error: {message}")
    if refused:
        sys.exit(UserError.exit_code)


async def _cancel(location: StoreLocation, keys: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """What was done, a line a key, and why the others were refused."""
    if app.store_missing(location):
        raise UserError(f"no store at {location} yet; `touchflow run` creates it")
    lines: list[str] = []
    refused: list[str] = []
    async with await open_store(location) as store:
        for key in dict.fromkeys(keys):
            try:
                done = await hand_cancel.cancel(store, key, now=Clock().now(), where="cli")
            except hand_cancel.CancelRefused as exc:
                refused.append(str(exc))
                continue
            if done.cancelled:
                lines.append(
                    f"Cancelled {key} (was {hand_cancel.was(done.before)}); it is not sent. "
                    f"Undo: touchflow retry {key}"
                )
            else:
                lines.append(f"{key} was already cancelled by hand ({done.after.last_error}).")
    return lines, refused
