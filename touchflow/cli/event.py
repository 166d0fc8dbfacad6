"""`touchflow event`: record one event, re-plan its customer, say what that changed.

The customer is planned before and after the event (``touchflow.cli.event_report``).
With no daemon on the store, this command writes the outbox as the daemon would
for a changed customer (holding the daemon's lock meanwhile); a running daemon
does that itself from the store's ``changes`` table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import click

from touchflow import clock, logs
from touchflow.cli import event_report
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
from touchflow.config.project_config import ProjectConfig, load_project
from touchflow.data.events import make_event
from touchflow.errors import ProblemsError
from touchflow.models import Event, PlannedTouchpoint, Window
from touchflow.plan.from_store import PlanRequest, plan_from_store
from touchflow.project import Project, load_project_checked
from touchflow.send.lock import CLI_WAITS, DAEMON, StoreLock, StoreLockedError
from touchflow.send.replan import plan_into_outbox
from touchflow.store import Store


@dataclass(frozen=True, slots=True, kw_only=True)
class _Recorded:
    added: bool
    changes: list[event_report.Change]
    daemon: bool  # a daemon holds the store: it writes the outbox, not this command


@cli.command(epilog=EPILOG, short_help="Record one event of a customer; say what it planned.")
@project_option
@click.argument("event_type", metavar="TYPE")
@click.option("--customer", required=True, help="The customer id.")
@click.option("--at", "at_text", metavar="ISO8601", help="When it happened (default: now).")
@click.option("--data", "data_json", metavar="JSON", default="{}", help="Event data as JSON.")
@click.option(
    "--id",
    "event_id",
    help="Event id (default: derived from type, customer, --at and data, so "
    "repeating a command with the same --at adds nothing).",
)
@handle_errors
def event(
    project_dir: Path,
    event_type: str,
    customer: str,
    at_text: str | None,
    data_json: str,
    event_id: str | None,
) -> None:
    """Record one event and say what it planned, moved or cancelled, e.g.

    \b
      touchflow event appointment_booked --customer c-001 \\
        --data '{"appointment_id": "a-1", "starts_at": "2027-03-01T10:00:00+01:00"}'

    Touchpoints due within daemon.horizon go into the outbox at once (by a running
    daemon, or by this command when none runs). A touchpoint whose time has already
    come is named on stderr: it is sent at once, or not at all if it expired.
    """
    config = load_project(project_dir)
    now = clock.now()
    ev = make_event(
        event_type, customer=customer, at=at_text, data_json=data_json, event_id=event_id,
        data_types=config.events, now=now,
    )  # fmt: skip
    project = _project_if_valid(project_dir)
    recorded = run_async(_record(config, project, ev, now))
    if not recorded.added:
        click.echo(f"Event {ev.id} was already recorded.")
        return
    click.echo(f"Recorded event {ev.id} for {ev.customer_id}.")
    if project is None:
        return
    _report(recorded, now=now, catch_up=config.daemon.catch_up)


def _project_if_valid(project_dir: Path) -> Project | None:
    """The rules to plan with, or None when they have problems: the event is recorded anyway."""
    try:
        return load_project_checked(project_dir)
    except ProblemsError as exc:
        echo_err(f"note: the rules have {len(exc.problems)} problem(s) (`touchflow validate`): "
                 "the event is recorded, but not planned")  # fmt: skip
        return None


def _report(recorded: _Recorded, *, now: datetime, catch_up: timedelta) -> None:
    """What the event planned, moved or cancelled; on stderr, what is due already."""
    if not recorded.changes:
        click.echo("It plans, moves and cancels nothing.")
    for line in event_report.lines(recorded.changes):
        click.echo(line)
    for warning in event_report.warnings(recorded.changes, now=now, catch_up=catch_up):
        echo_err(warning)
    if recorded.daemon and recorded.changes:
        click.echo("The running daemon updates the outbox within daemon.watch_every.")


async def _record(
    config: ProjectConfig, project: Project | None, ev: Event, now: datetime
) -> _Recorded:
    lock = StoreLock(config.store_location(), holder="touchflow event")
    try:
        # Held briefly: a `touchflow run` starting meanwhile waits for it, then plans.
        lock.acquire(wait=CLI_WAITS)
        daemon = False
    except StoreLockedError as exc:
        if exc.holder != DAEMON:
            raise  # another command, still at it after CLI_WAITS: its own words
        daemon = True
    try:
        async with await app.open_store(config) as store:
            if await store.get_customer(ev.customer_id) is None:
                raise arg_error("--customer", f"no customer {ev.customer_id!r} in the store")
            span = Window(start=now - event_report.SPAN, end=now + event_report.SPAN)
            before = await _plan(project, store, ev.customer_id, span)
            outcome = await store.add_events_checked([ev], now=now)
            if outcome.conflicts:
                differ = "; ".join(outcome.differences.get(ev.id, ()))
                raise arg_error(
                    "--id",
                    f"event id {ev.id!r} is already recorded for a different event ({differ}); "
                    "give this event an id of its own",
                )
            if outcome.unknown_customers:  # erased since the check above
                raise arg_error("--customer", f"no customer {ev.customer_id!r} in the store")
            if not outcome.inserted:
                return _Recorded(added=False, changes=[], daemon=daemon)
            after = await _plan(project, store, ev.customer_id, span)
            if project is not None and not daemon:
                await _into_outbox(project, store, ev.customer_id, now)
    finally:
        if not daemon:
            lock.release()
    return _Recorded(added=True, changes=event_report.changes(before, after), daemon=daemon)


async def _plan(
    project: Project | None, store: Store, customer_id: str, window: Window
) -> list[PlannedTouchpoint]:
    if project is None:
        return []
    request = PlanRequest(window=window, customer=customer_id)
    return await plan_from_store(project, store, request)


async def _into_outbox(project: Project, store: Store, customer_id: str, now: datetime) -> None:
    """What the daemon does for a changed customer; its own re-plan later writes nothing
    new (planning the same facts twice is idempotent)."""
    settings = project.config.daemon
    window = Window(start=now - settings.catch_up, end=now + settings.horizon)
    # The state changes are this command's report, not log lines.
    quiet = logging.NullHandler()
    logs.log.addHandler(quiet)
    try:
        await plan_into_outbox(project, store, window=window, now=now, customer_ids=[customer_id])
    finally:
        logs.log.removeHandler(quiet)
