"""`touchflow import customers|events`: a file into the store, all of its rows or none."""

from __future__ import annotations

from pathlib import Path

import click

from touchflow import clock
from touchflow.cli import flows as app
from touchflow.cli.common import EPILOG, cli, echo_err, handle_errors, project_option, run_async
from touchflow.config.project_config import load_project
from touchflow.data import sample_store
from touchflow.store import CustomersWrite
from touchflow.words import counted


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

    Core fields: id, email, phone (stored as E.164; a national number is read
    in the customer's country, else the project's), first_name, last_name,
    timezone (IANA), locale, country (ISO 3166), birthday and customer_since
    (YYYY-MM-DD), consent_marketing and consent_sms (consent to texts; each
    true/false). Every other column is an attribute
    (customer.<column> in templates once declared in touchflow.yaml).
    A CSV file whose header row has ';' and no ',' is read with ';' between
    cells, as spreadsheets save it in many locales. A bad row is reported with
    its line and nothing from the file is imported. Says how many customers
    were new, updated and unchanged; on a terminal, shows its progress.
    """
    config = load_project(project_dir)

    async def flow() -> tuple[CustomersWrite, list[str]]:
        from touchflow.cli.progress_bars import import_progress  # rich: only for an import

        with import_progress(file) as progress:
            async with await app.open_store(config) as store:
                written, ids = await app.import_customers(
                    store, config, file, now=clock.now(), progress=progress
                )
                return written, await sample_store.after_import(store, config, ids)

    written, notes = run_async(flow())
    counts = {"new": written.new, "updated": written.updated, "unchanged": written.unchanged}
    parts = ", ".join(f"{count} {what}" for what, count in counts.items() if count)
    click.echo(
        f"Imported {counted(written.total, 'customer')} from {file}"
        + (f": {parts}." if parts else ".")
    )
    for note in notes:
        echo_err(note)


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
        from touchflow.cli.progress_bars import import_progress  # rich: only for an import

        with import_progress(file) as progress:
            async with await app.open_store(config) as store:
                return await app.import_events(
                    store, config, file, now=clock.now(), progress=progress
                )

    added, known = run_async(flow())
    click.echo(
        f"Imported {counted(added, 'event')} from {file}"
        + (f" ({known} already known)." if known else ".")
    )
