"""`touchflow store`: the store itself, whichever it is (a SQLite file, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
    run_async,
)
from touchflow.cli.flows import store_missing
from touchflow.cli.records import DaemonRunningError
from touchflow.config.project_config import load_project
from touchflow.config.store import (
    StoreLocation,
    StoreLocationError,
    has_password,
    shown_location,
    store_location,
)
from touchflow.errors import StoreError
from touchflow.send.lock import CLI_WAITS, DAEMON, StoreLock, StoreLockedError
from touchflow.store import migrate_store, open_store
from touchflow.store.copy import Copied, CopyProgress, copy_store
from touchflow.store.history import HISTORY_TABLES


@cli.group(name="store", short_help="The store itself: its schema, a copy of it.")
def store_group() -> None:
    """The store itself: where touchflow.yaml's `store:` (or TOUCHFLOW_STORE_URL) points;
    `store copy` moves it whole into another store (SQLite, PostgreSQL)."""


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


COPY_EPILOG = (
    """\b
Examples:
  touchflow store copy postgresql://app@db.example.com/shop
      the project's store into PostgreSQL (PGPASSWORD or ~/.pgpass
      gives the password); then point `store:` there
  touchflow store copy postgresql://app@db.example.com/shop back.sqlite3
      from PostgreSQL into a new SQLite file
  touchflow store copy --replace old.sqlite3 postgresql://app@localhost/shop

"""
    + EPILOG
)
COPIER = "touchflow store copy"
# A table as the copy's progress and report name it: "changes" are customers to re-plan.
_LABELS = {"changes": "to re-plan"}


@store_group.command(
    name="copy", epilog=COPY_EPILOG, short_help="Copy a whole store into another one."
)
@project_option
@click.argument("locations", nargs=-1, metavar="[SRC] DST")
@click.option(
    "--replace",
    is_flag=True,
    help="DST may hold data: delete it first, in the copy's transaction.",
)
@handle_errors
def copy(project_dir: Path, locations: tuple[str, ...], replace: bool) -> None:
    """Copy everything of store SRC into store DST, all or nothing: customers, events,
    suppressions, the outbox with its history (every state, attempt, claim, reason,
    Message-ID and send time) and the daemon's meta (where its full plan stopped).

    SRC and DST are each a SQLite file (a path from the current directory, or
    sqlite:///path) or a PostgreSQL database (postgresql://user@host:port/database,
    its options too). Without SRC, the project's store (touchflow.yaml's `store:`,
    or TOUCHFLOW_STORE_URL). A password never goes on the command line (others see
    it in `ps`): PGPASSWORD or ~/.pgpass gives it. SRC is left as it was.

    DST gets it all in one transaction: a copy that fails or is stopped half-way
    leaves DST as it was. A DST that holds customers, events, suppressions or
    outbox rows is refused (exit 1) unless --replace. No daemon may run on either
    store meanwhile (refused, exit 1). Rows go a page at a time (memory follows the
    page), with their progress on standard error; at the end, the rows of each
    table on both sides. A daemon started on DST sends nothing twice: the outbox
    rows keep their keys, and only the customers SRC still had to re-plan are
    marked changed on DST.
    """
    (source, destination), shown = _copy_locations(project_dir, locations)
    if store_missing(source):
        raise arg_error("SRC", f"no store at {shown[0]}")
    with (
        _held(source, shown[0], "copying it while it sends would copy a store on the move"),
        _held(destination, shown[1], "copying into it would mix its writes with the copy"),
    ):
        copied = run_async(_copy(source, destination, replace=replace))
    _report(copied, *shown)


def _copy_locations(
    project_dir: Path, given: tuple[str, ...]
) -> tuple[tuple[StoreLocation, StoreLocation], tuple[str, str]]:
    """``(SRC, DST)`` from the arguments (one: DST, and SRC is the project's store), and
    how messages show them."""
    if not 1 <= len(given) <= 2:
        raise arg_error("[SRC] DST", f"expected 1 or 2 stores, got {len(given)}")
    names = ("SRC", "DST")[2 - len(given) :]
    found = [_location(name, value) for name, value in zip(names, given, strict=True)]
    shown = [shown_location(location) for location in found]
    if len(found) == 1:
        config = load_project(project_dir)
        found.insert(0, config.store_location())
        shown.insert(0, app.shown_store(config))
    source, destination = found
    if _same(source, destination):
        raise arg_error("DST", f"{shown[1]} is SRC itself")
    return (source, destination), (shown[0], shown[1])


def _location(name: str, value: str) -> StoreLocation:
    try:
        location = store_location(value)
    except StoreLocationError as exc:
        raise arg_error(name, str(exc)) from None
    if isinstance(location, str) and has_password(location):
        raise arg_error(
            name,
            f"{shown_location(location)}: a password does not belong on the command line "
            "(other users see it in `ps`); leave it out and set PGPASSWORD, or use ~/.pgpass",
        )
    return location


def _same(a: StoreLocation, b: StoreLocation) -> bool:
    if isinstance(a, Path) and isinstance(b, Path):
        return a.resolve() == b.resolve()
    return a == b


@contextmanager
def _held(location: StoreLocation, shown: str, why: str) -> Iterator[None]:
    """The store's daemon lock, held while copying: no daemon plans, sends or starts."""
    lock = StoreLock(location, holder=COPIER)
    try:
        lock.acquire(wait=CLI_WAITS)
    except StoreLockedError as exc:
        if exc.holder != DAEMON:
            raise
        raise DaemonRunningError(
            f"a daemon (`touchflow run`) is using the store {shown}; {why}. Stop it first."
        ) from None
    try:
        yield
    finally:
        lock.release()


async def _copy(source: StoreLocation, destination: StoreLocation, *, replace: bool) -> Copied:
    progress = _progress()
    async with await open_store(source) as src, await open_store(destination) as dst:
        with progress as shown:
            return await copy_store(src, dst, replace=replace, progress=shown)


def _report(copied: Copied, source: str, destination: str) -> None:
    click.echo(f"Copied {source} into {destination}; rows on both sides:")
    click.echo(f"  {'':<14}{'source':>12}{'destination':>14}")
    for table in HISTORY_TABLES:
        name = _LABELS.get(table, table)
        click.echo(f"  {name:<14}{copied.source[table]:>12}{copied.destination[table]:>14}")
    click.echo(f"Meta copied: {', '.join(copied.meta) or 'none'}.")
    if copied.destination != copied.source:
        raise StoreError(
            f"{destination} does not hold what {source} did once committed: "
            "another process wrote to it meanwhile"
        )


@contextmanager
def _progress() -> Iterator[CopyProgress]:
    """Bars on a terminal's standard error; elsewhere (cron, a pipe) a line per tenth."""
    from rich.console import Console  # rich: only for long work

    console = Console(stderr=True)
    if not console.is_terminal:
        yield _Lines()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    bars = Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
                    console=console)  # fmt: skip
    tasks: dict[str, TaskID] = {}

    def show(table: str, done: int, total: int) -> None:
        if table not in tasks:
            tasks[table] = bars.add_task(_LABELS.get(table, table), total=total)
        bars.update(tasks[table], completed=done)

    with bars:
        yield show


class _Lines:
    """``CopyProgress`` as lines on standard error: each table's count at every tenth."""

    def __init__(self) -> None:
        self._shown: dict[str, int] = {}

    def __call__(self, table: str, done: int, total: int) -> None:
        tenth = 10 if done >= total else done * 10 // total
        if tenth > self._shown.get(table, -1) and (done or not total):
            self._shown[table] = tenth
            echo_err(f"{_LABELS.get(table, table)}: {done} of {total} copied")
