"""`touchflow run`, `touchflow outbox` and `touchflow retry`: the daemon's commands."""

from __future__ import annotations

import functools
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from touchflow import logs
from touchflow.channels.factory import open_channel
from touchflow.cli import flows as app
from touchflow.cli.common import (
    EPILOG,
    cli,
    echo_err,
    handle_errors,
    parse_now,
    project_option,
    run_async,
)
from touchflow.clock import Clock
from touchflow.config.http import read_secrets
from touchflow.config.project_config import load_project
from touchflow.config.store import StoreLocation
from touchflow.errors import UserError
from touchflow.messages.dkim import DkimSigner
from touchflow.models import OutboxRow, OutboxState
from touchflow.project import Project, load_with_links
from touchflow.send import trouble
from touchflow.send.daemon import Daemon, Service, Summary
from touchflow.send.instance import Lead, new_instance_id
from touchflow.send.lock import StoreLock
from touchflow.store import REQUEUEABLE, open_store
from touchflow.timecalc import zone

# How long `run` waits for a CLI command holding the store (never for a daemon).
RUN_WAITS = 10.0
RETRY_KEEPS = timedelta(days=1)  # a re-queued touchpoint may go out for this long
# What `touchflow outbox` lists by default (then the next pending ones): what needs a look.
_LOOK_AT = (OutboxState.FAILED, OutboxState.RETRY, OutboxState.EXPIRED, OutboxState.CLAIMED)
_STATE_WORDS = {OutboxState.RETRY: "waiting to retry"}  # "No touchpoints are <words>."


@cli.command(epilog=EPILOG, short_help="Plan touchpoints into the outbox and send them when due.")
@project_option
@click.option("--once", is_flag=True, help="Plan, send what is due, and exit (for cron).")
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="Pretend it is this instant (e.g. 2026-12-24T09:00:00+01:00); the daemon's clock "
    "then runs on from there. For tests and rehearsals.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object per line, for log collectors.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@handle_errors
def run(
    project_dir: Path, once: bool, now_text: str | None, log_format: str, log_level: str
) -> None:
    """Plan touchpoints into the outbox and send them when they are due.

    Without --once it runs until SIGTERM or Ctrl-C, then stops claiming, lets
    sends in flight finish (daemon.shutdown_grace) and exits 0. Rules and
    templates are reloaded when they change on disk or on SIGHUP; a change
    that does not validate is logged with file:line and the old rules keep
    running.

    \b
    With no `delivery:` in touchflow.yaml, messages go to the local Maildir
    .touchflow/maildir: nothing leaves the machine until SMTP is configured.

    \b
    Examples:
      touchflow run                          the daemon (see docs/operations.md)
      touchflow run --once                   for cron: send what is due, exit
      touchflow run --once --now 2026-12-24T09:00:00+01:00
      touchflow run --log-format json
    """
    logs.setup(log_format, log_level)
    # With http.public_url, marketing messages carry signed links: the secret is needed.
    project = load_with_links(project_dir, os.environ)
    if project.config.http is not None and not once:
        read_secrets(os.environ)  # name a missing secret before anything else happens
    now = parse_now(now_text, project.config.timezone)
    clock = Clock.starting_at(now) if now_text else Clock()
    instance = new_instance_id()
    logs.set_instance(instance)
    lock = StoreLock(project.config.store_location(), instance=instance)
    lock.acquire(wait=RUN_WAITS)  # a CLI command (`touchflow event`) holds it a moment
    if now_text and lock.shared:
        logs.log.warning(
            "--now sets this daemon's clock only; daemons sharing a store judge each other's "
            "claims by their own clocks: run --now where no other daemon uses the store"
        )
    try:
        summary = run_async(_daemon(project, clock, lock, once=once))
    finally:
        lock.release()
    if summary is not None:
        click.echo(_summary_text(project, summary))


async def _daemon(project: Project, clock: Clock, lock: Lead, *, once: bool) -> Summary | None:
    config = project.config
    signer = DkimSigner.from_settings(config.delivery.dkim) if config.delivery.dkim else None
    channel = open_channel(config.delivery, root=config.root, environ=os.environ)
    try:
        async with await app.open_store(config) as store:
            await app.ensure_sample(store, config, clock.now(), echo_err)
            daemon = Daemon(
                project=project, store=store, channel=channel, clock=clock, signer=signer,
                load=functools.partial(load_with_links, environ=os.environ), lead=lock,
            )  # fmt: skip
            if once:
                return await daemon.run_once()
            services: list[Service] = []
            if config.http is not None:
                from touchflow.http.server import HttpService  # the web stack, only when served

                http = HttpService(daemon, config.http, os.environ)
                http.bind()  # a taken port stops the start here, before anything is sent
                services.append(http)
            await daemon.run_forever(services=services)
            return None
    finally:
        await channel.aclose()


def _summary_text(project: Project, summary: Summary) -> str:
    text = f"Dispatched: {summary.tally.text()}."
    if summary.next_ready is None:
        return text + " Nothing else is waiting in the outbox."
    local = summary.next_ready.astimezone(zone(project.config.timezone))
    return text + f" Next due: {local:%Y-%m-%d %H:%M} ({project.config.timezone})."


@cli.command(epilog=EPILOG, short_help="Counts by state, what is due next, failures and why.")
@project_option
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in OutboxState]),
    help="Only rows in this state (repeatable). Default: what needs a look "
    "(failed, retry, expired, claimed) and the next pending ones.",
)
@click.option("--customer", help="Only this customer's touchpoints.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="Count what needs a look (the last 24 hours' problems) as of this instant, or "
    "this day in the project's time zone, as `touchflow run --now`.  [default: now]",
)
@handle_errors
def outbox(
    project_dir: Path,
    states: tuple[str, ...],
    customer: str | None,
    limit: int,
    fmt: str,
    now_text: str | None,
) -> None:
    """What the daemon planned, sent and could not send: counts by state, what is
    due next, and failures with their reasons.

    \b
    Examples:
      touchflow outbox                        counts, problems, next pending
      touchflow outbox --state failed         every failure and why
      touchflow outbox --customer c-001 --format json
    """
    config = load_project(project_dir)
    chosen = [OutboxState(s) for s in states]
    now = parse_now(now_text, config.timezone)
    counts, rows, next_due, problems = run_async(
        _outbox(config.store_location(), chosen, customer, limit, now)
    )
    if fmt == "json":
        doc = {
            "counts": {s.value: counts.get(s, 0) for s in OutboxState},
            "problems": [
                {"reason": p.reason, "rows": p.rows, "customers": p.customers, "message": p.words}
                for p in problems
            ],
            "next_due": _utc(next_due),
            "rows": [row_json(r) for r in rows],
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    _print_outbox(counts, rows, next_due, config.timezone, problems)
    if not rows and any(counts.values()):  # an empty outbox already said so
        click.echo(_nothing_to_list(chosen, customer))


async def _outbox(
    location: StoreLocation,
    states: list[OutboxState],
    customer: str | None,
    limit: int,
    now: datetime,
) -> tuple[dict[OutboxState, int], list[OutboxRow], datetime | None, list[trouble.Trouble]]:
    if app.store_missing(location):
        raise UserError(f"no store at {location} yet; `touchflow run` creates it")
    async with await open_store(location) as store:
        counts = await store.outbox_counts()
        if states:
            rows = await store.list_outbox(states=states, customer_id=customer, limit=limit)
        else:
            rows = await store.list_outbox(
                states=_LOOK_AT, customer_id=customer, limit=limit, newest_first=True
            )
            rows += await store.list_outbox(
                states=(OutboxState.PENDING,), customer_id=customer, limit=limit
            )
        next_due = await store.next_ready_at()
        problems = await trouble.find(store, now)
    return counts, rows, next_due, problems


def _nothing_to_list(states: list[OutboxState], customer: str | None) -> str:
    """Said in words, so an empty answer is not mistaken for a command that did nothing."""
    shown = list(dict.fromkeys(states)) or [*_LOOK_AT, OutboxState.PENDING]
    words = [_STATE_WORDS.get(s, s.value) for s in shown]
    either = ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]
    whose = f" of customer {customer}" if customer else ""
    return f"No touchpoints{whose} are {either}."


def _utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def row_json(row: OutboxRow) -> dict[str, Any]:
    t = _utc

    return {
        "key": row.key,
        "rule": row.rule_id,
        "customer": row.customer_id,
        "category": row.category.value,
        "channel": row.channel,
        "state": row.state.value,
        "due_at": t(row.due_at),
        "expires_at": t(row.expires_at),
        "next_attempt_at": t(row.next_attempt_at),
        "attempts": row.attempts,
        "reason": row.reason,
        "detail": row.last_error,
        "to": row.to,
        "message_id": row.message_id,
        "sent_at": t(row.sent_at),
    }


def _print_outbox(
    counts: dict[OutboxState, int],
    rows: list[OutboxRow],
    next_due: datetime | None,
    tz_name: str,
    problems: list[trouble.Trouble],
) -> None:
    # rich costs a tenth of a second to import: only the commands that print tables pay.
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    tz = zone(tz_name)
    summary = ", ".join(f"{counts.get(s, 0)} {s.value}" for s in OutboxState if counts.get(s))
    console.print(f"Outbox: {summary or 'empty'}")
    for problem in problems:  # what /healthz calls degraded, in the same words
        console.print(f"Needs a look: {problem.words}", highlight=False)
    if next_due is not None:
        console.print(f"Next due: {next_due.astimezone(tz):%Y-%m-%d %H:%M} ({tz_name})")
    if not rows:
        return
    table = Table(show_lines=False)
    columns = ("state", f"due ({tz_name})", "rule", "channel", "customer", "attempts")
    for column in (*columns, "reason / detail"):
        table.add_column(column)
    for row in rows:
        detail = " — ".join(x for x in (row.reason, row.last_error) if x)
        table.add_row(
            row.state.value,
            f"{row.due_at.astimezone(tz):%Y-%m-%d %H:%M}",
            row.rule_id,
            row.channel,
            row.customer_id,
            str(row.attempts),
            detail,
        )
    console.print(table)


@cli.command(
    epilog=EPILOG, short_help="Re-queue a failed, expired or cancelled touchpoint to send now."
)
@project_option
@click.argument("key")
@handle_errors
def retry(project_dir: Path, key: str) -> None:
    """Re-queue the touchpoint KEY (failed, expired or cancelled) to be sent now, or at
    its due time if that is still ahead (a touchpoint cancelled before it was due).

    It gets at least another day before it expires. A running daemon picks it
    up within daemon.watch_every; otherwise run `touchflow run --once`. Keys
    are in `touchflow outbox`.
    """
    config = load_project(project_dir)
    row = run_async(_retry(config.store_location(), key))
    when = "at the next dispatch"
    if row.due_at > Clock().now():
        local = row.due_at.astimezone(zone(config.timezone))
        when = f"at its due time, {local:%Y-%m-%d %H:%M} ({config.timezone})"
    click.echo(f"Re-queued {row.key} (was {_was(row)}); it is sent {when}.")


async def _retry(location: StoreLocation, key: str) -> OutboxRow:
    if app.store_missing(location):
        raise UserError(f"no store at {location} yet; `touchflow run` creates it")
    async with await open_store(location) as store:
        before = (await store.outbox_by_keys([key])).get(key)
        if before is None:
            raise UserError(f"no touchpoint {key!r} in the outbox (see `touchflow outbox`)")
        if before.state not in REQUEUEABLE:
            raise UserError(
                f"{key} is {before.state.value}; only failed, expired or cancelled "
                "touchpoints can be re-queued"
            )
        await store.requeue(key, now=Clock().now(), keep_for=RETRY_KEEPS)
    return before


def _was(row: OutboxRow) -> str:
    return row.state.value + (f": {row.reason}" if row.reason else "")
