"""The records an ops person looks up: `touchflow customers|events|suppressions`.

Commands that delete (`customers delete`) refuse while a daemon holds the store:
a plan it is writing could put back what was just deleted. The daemon's HTTP
interface (DELETE /v1/customers/ID) erases safely while it runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from touchflow.cli import flows as app
from touchflow.cli.common import EPILOG, arg_error, cli, handle_errors, project_option, run_async
from touchflow.config.project_config import ProjectConfig, load_project
from touchflow.data.suppressions import parse_suppression_email
from touchflow.errors import TouchflowError, UserError
from touchflow.models import Event, SuppressionScope
from touchflow.send.lock import CLI_WAITS, DAEMON, StoreLock, StoreLockedError
from touchflow.store import Store
from touchflow.words import counted


class DaemonRunningError(TouchflowError):
    """A command that deletes found a daemon on the store."""


@contextmanager
def no_daemon(
    config: ProjectConfig, doing: str, *, command: str, instead: str = ""
) -> Iterator[None]:
    """Hold the daemon's lock while ``doing``: no daemon plans meanwhile, none starts
    (a `touchflow run` starting meanwhile waits for it: keep it short, ask before)."""
    lock = StoreLock(config.store_location(), holder=command)
    try:
        lock.acquire(wait=CLI_WAITS)
    except StoreLockedError as exc:
        if exc.holder != DAEMON:
            raise  # another command, still at it after CLI_WAITS: its own words
        raise DaemonRunningError(
            f"a daemon (`touchflow run`) is using the store {app.shown_store(config)}; "
            f"{doing} while it plans could write back what was deleted. "
            f"Stop it first{instead}."
        ) from None
    try:
        yield
    finally:
        lock.release()


def confirm(question: str, *, yes: bool) -> bool:
    """Ask on a terminal; without one, go ahead only with --yes."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UserError(f"{question} Not asked: standard input is not a terminal; add --yes")
    return click.confirm(question, default=False, err=True)


async def _store(config: ProjectConfig) -> Store:
    if app.store_missing(config.store_location()):
        raise UserError(
            f"no store at {app.shown_store(config)} yet; `touchflow sample` or an import creates it"
        )
    return await app.open_store(config)


# --- touchflow customers -------------------------------------------------------------


@cli.group()
def customers() -> None:
    """List, show and delete customers."""


def _format_option(func: Any) -> Any:
    return click.option(
        "--format", "fmt", type=click.Choice(["table", "json"]), default="table",
        show_default=True, help="table for people, json for scripts.",
    )(func)  # fmt: skip


@customers.command(name="list", epilog=EPILOG, short_help="Customers by id, a page at a time.")
@project_option
@click.option("--email", help="Only customers with this address (case does not matter).")
@click.option("--after", "after", default="", metavar="ID", help="Start after this id (paging).")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@_format_option
@handle_errors
def customers_list(project_dir: Path, email: str | None, after: str, limit: int, fmt: str) -> None:
    """Customers by id, a page at a time (--after the last id shown for the next page).

    \b
    Examples:
      touchflow customers list
      touchflow customers list --after c-050 --limit 100
      touchflow customers list --email Anna.Schmidt@example.com --format json
    """
    config = load_project(project_dir)

    async def flow() -> tuple[list[Any], int]:
        async with await _store(config) as store:
            found = await store.list_customers(after=after, limit=limit, email=email)
            return found, await store.customer_count()

    found, total = run_async(flow())
    more = len(found) == limit
    from touchflow.cli import records_view as view  # with rich: only where a table prints

    if fmt == "json":
        doc = {"customers": [view.customer_json(c) for c in found], "total": total,
               "next_after": found[-1].id if more else None}  # fmt: skip
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    view.print_customers(found, total=total, more=more)


@customers.command(
    name="show", epilog=EPILOG, short_help="One customer: fields, events, touchpoints."
)
@project_option
@click.argument("customer_id", metavar="ID")
@click.option("--events", "event_limit", type=click.IntRange(0), default=20, show_default=True,
              help="Show up to this many of the newest events.")  # fmt: skip
@_format_option
@handle_errors
def customers_show(project_dir: Path, customer_id: str, event_limit: int, fmt: str) -> None:
    """One customer: fields and attributes, newest events, suppressions of the address,
    and every touchpoint of theirs in the outbox with its state and due time."""
    config = load_project(project_dir)

    async def flow() -> dict[str, Any]:
        async with await _store(config) as store:
            found = await store.get_customer(customer_id)
            if found is None:
                raise arg_error("ID", f"no customer {customer_id!r} in the store")
            events, count = await store.customer_events(customer_id, limit=event_limit)
            held = await store.list_suppressions(email=found.email) if found.email else []
            if found.phone:  # a number is suppressed on its own (a STOP reply)
                held += await store.list_suppressions(email=found.phone)
            rows = await store.list_outbox(customer_id=customer_id)
            return {"customer": found, "events": events, "event_count": count,
                    "suppressions": held, "outbox": rows}  # fmt: skip

    shown = run_async(flow())
    from touchflow.cli import records_view as view  # with rich: only where a table prints

    if fmt == "json":
        from touchflow.cli.daemon import row_json

        doc = {
            "customer": view.customer_json(shown["customer"]),
            "events": [view.event_json(e) for e in shown["events"]],
            "event_count": shown["event_count"],
            "suppressions": [view.suppression_json(s) for s in shown["suppressions"]],
            "outbox": [row_json(r) for r in shown["outbox"]],
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    view.print_customer(config.timezone, **shown)


@customers.command(name="delete", epilog=EPILOG, short_help="Erase a customer and their data.")
@project_option
@click.argument("customer_id", metavar="ID")
@click.option("--yes", is_flag=True, help="Do not ask (needed when not on a terminal).")
@handle_errors
def customers_delete(project_dir: Path, customer_id: str, yes: bool) -> None:
    """Erase a customer, as DELETE /v1/customers/ID does: their record, events and unsent
    touchpoints go; sent ones stay without the address, suppressions stay hashed.

    Refused while a daemon runs on the store: stop it, or use its HTTP interface.
    """
    config = load_project(project_dir)

    async def ask() -> str:
        async with await _store(config) as store:
            found = await store.get_customer(customer_id)
            if found is None:
                raise arg_error("ID", f"no customer {customer_id!r} in the store")
            _, count = await store.customer_events(customer_id, limit=0)
        address = found.email or "no email"
        return f"Delete customer {customer_id} ({address}) and their {counted(count, 'event')}?"

    async def flow() -> str | None:
        async with await _store(config) as store:
            erased = await store.erase_customer(customer_id)
            if erased is None:  # erased by someone else while we asked
                return None
            return (
                f"Erased customer {customer_id}: {counted(erased.events, 'event')} and "
                f"{counted(erased.touchpoints_deleted, 'unsent touchpoint')} deleted; "
                f"{erased.touchpoints_kept} sent or finished kept without the address; "
                f"{counted(erased.suppressions_hashed, 'suppression')} kept hashed."
            )

    # Asked before the lock is taken: a daemon starting meanwhile is not kept waiting.
    if not confirm(run_async(ask()), yes=yes):
        click.echo("Nothing was deleted.")
        return
    http = f", or use its HTTP interface: DELETE /v1/customers/{customer_id}"
    with no_daemon(
        config, "erasing a customer", command="touchflow customers delete", instead=http
    ):
        said = run_async(flow())
    click.echo(said or "Nothing was deleted.")


# --- touchflow events ---------------------------------------------------------------


@cli.group(name="events")
def events_group() -> None:
    """List a customer's events."""


@events_group.command(name="list", epilog=EPILOG, short_help="A customer's events, newest first.")
@project_option
@click.option("--customer", required=True, help="The customer id.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@_format_option
@handle_errors
def events_list(project_dir: Path, customer: str, limit: int, fmt: str) -> None:
    """A customer's events, newest first: time, type, id and data."""
    config = load_project(project_dir)

    async def flow() -> tuple[list[Event], int]:
        async with await _store(config) as store:
            if await store.get_customer(customer) is None:
                raise arg_error("--customer", f"no customer {customer!r} in the store")
            return await store.customer_events(customer, limit=limit)

    found, count = run_async(flow())
    from touchflow.cli import records_view as view  # with rich: only where a table prints

    if fmt == "json":
        doc = {"events": [view.event_json(e) for e in found], "total": count}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    view.print_events(found, count, config.timezone)


# --- touchflow suppressions -----------------------------------------------------------


@cli.group(short_help="List and remove suppressions.")
def suppressions() -> None:
    """List and remove suppressions (add them with `touchflow suppress`)."""


@suppressions.command(name="list", epilog=EPILOG, short_help="Suppressions, newest first.")
@project_option
@click.option(
    "--email",
    help="Only this address or phone number (also its hashed form, after an erasure).",
)
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@_format_option
@handle_errors
def suppressions_list(project_dir: Path, email: str | None, limit: int, fmt: str) -> None:
    """Suppressions, newest first: address (or sha256:… of an erased one), scope, reason,
    since when."""
    config = load_project(project_dir)
    address = None if email is None else parse_suppression_email(email, country=config.country)

    async def flow() -> list[Any]:
        async with await _store(config) as store:
            return await store.list_suppressions(email=address, limit=limit)

    found = run_async(flow())
    from touchflow.cli import records_view as view  # with rich: only where a table prints

    if fmt == "json":
        doc = {"suppressions": [view.suppression_json(s) for s in found]}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    view.print_suppressions(found, config.timezone)


@suppressions.command(
    name="remove", epilog=EPILOG, short_help="Send to ADDRESS again: lift its suppression."
)
@project_option
@click.argument("email", metavar="ADDRESS")
@click.option(
    "--category",
    type=click.Choice(["marketing", "all", "both"]),
    default="both",
    show_default=True,
    help="Which suppression to lift: marketing, all, or both.",
)
@handle_errors
def suppressions_remove(project_dir: Path, email: str, category: str) -> None:
    """Send to ADDRESS again: lift its suppression (both categories by default).

    ADDRESS is an e-mail address or a phone number (as `touchflow suppress` takes it).

    Its held touchpoints are planned again (by a running daemon within
    daemon.watch_every, or at the next `touchflow run`).
    """
    config = load_project(project_dir)
    address = parse_suppression_email(email, source="ADDRESS", country=config.country)
    scopes = list(SuppressionScope) if category == "both" else [SuppressionScope(category)]

    async def flow() -> int:
        async with await _store(config) as store:
            return await store.remove_suppressions(address, scopes)

    removed = run_async(flow())
    if not removed:
        which = "" if category == "both" else f" ({category})"
        raise arg_error(
            "ADDRESS", f"{address} has no suppression{which}; see `touchflow suppressions list`"
        )
    click.echo(f"Removed {removed} suppression{'s' if removed != 1 else ''} of {address}.")
