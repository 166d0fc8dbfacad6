"""`touchflow console`: the web console against a store, with no daemon, read-only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import click

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
from touchflow.config.http import API_TOKEN_ENV, HttpConfigError, HttpSettings, secret
from touchflow.errors import TouchflowError, UserError
from touchflow.project import Project, load_with_links
from touchflow.store import open_store, schema_versions

HOST = "127.0.0.1"  # this machine only: a reverse proxy with TLS in front serves others


class ConsoleListenError(TouchflowError):
    """The port cannot be taken: an operational failure, exit 1."""


@cli.command(
    name="console", epilog=EPILOG, short_help="The web console without a daemon, read-only."
)
@project_option
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="The port on 127.0.0.1 (0: any free one).  [default: http.port, else 8787]",
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="Pretend it is this instant (2026-12-24T09:00:00Z), or this day in the "
    "project's time zone (2026-12-24), as `touchflow run --now`.",
)
@handle_errors
def console_command(project_dir: Path, port: int | None, now_text: str | None) -> None:
    """Serve the web console (docs/console.md) for the project's store on
    http://127.0.0.1:PORT/console/ while no daemon runs: the calendar, the outbox,
    customers with the why of each touchpoint and its message, the rules with their
    volume and the diff against git, the store's health. Read-only: it takes no lock,
    writes nothing to the store, and has no retry (run the daemon to retry). If a
    daemon holds the store, it says so and serves all the same.

    Log in with the token in the environment variable TOUCHFLOW_API_TOKEN (it refuses
    to start without one). Stop it with Ctrl-C.

    Exit codes: 0 stopped · 1 the port is taken · 2 no token, no store yet, a store
    of another schema version (it does not upgrade one: `touchflow store migrate`
    does), or a mistake in the project.

    \b
    Examples:
      TOUCHFLOW_API_TOKEN=$(cat token) touchflow console
      touchflow console --port 8790 --project shop
      touchflow console --now 2026-12-01      the calendar as of that morning
    """
    why = "`touchflow console` logs in with the daemon's API token"
    try:
        token = secret(os.environ, API_TOKEN_ENV, needed_for=why)
    except HttpConfigError as exc:
        raise UserError(f"{exc} (export it, then start touchflow console again)") from None
    project = load_with_links(project_dir, os.environ)
    location = project.config.store_location()
    _same_schema(project)
    settings = project.config.http or HttpSettings()
    sock = _bind(settings.port if port is None else port)
    now = parse_now(now_text, project.config.timezone)
    clock = Clock.starting_at(now) if now_text else Clock()
    from touchflow.console.offline import daemon_holder

    holder = daemon_holder(location)
    if holder is not None:
        echo_err(f"a daemon ({holder}) holds the store: serving it read-only all the same")
    run_async(_serve(project, clock, token, sock))


def _same_schema(project: Project) -> None:
    """Refuse a store this touchflow would have to upgrade (or cannot read): opening it
    would upgrade it, and `touchflow console` changes nothing."""
    where = app.shown_store(project.config)
    found, reads = run_async(schema_versions(project.config.store_location()))
    if found is None:
        raise UserError(
            f"no store yet at {where}: nothing to show. "
            "Run `touchflow run` (or `touchflow sample`) first."
        )
    if found < reads:
        raise UserError(
            f"the store at {where} has schema version {found}; this touchflow reads "
            f"{reads}. touchflow console changes nothing, so it does not upgrade it: run "
            "`touchflow store migrate` (or start `touchflow run`, which upgrades it), "
            "then start it again."
        )
    if found > reads:
        raise UserError(
            f"the store at {where} has schema version {found}, newer than this touchflow "
            f"reads ({reads}): it was written by a later touchflow; use that one's console."
        )


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise ConsoleListenError(
            f"cannot serve on {HOST}:{port}: {exc.strerror or exc} "
            "(a daemon's console may be there already; pick another with --port)"
        ) from None
    return sock


async def _serve(project: Project, clock: Clock, token: str, sock: socket.socket) -> None:
    """Serve until SIGINT or SIGTERM, then exit 0; the address is printed once it answers."""
    import uvicorn

    from touchflow.console.offline import offline_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # ours, below: uvicorn's would raise the signal again once stopped

    async with await open_store(project.config.store_location(), read_only=True) as store:
        config = uvicorn.Config(
            offline_app(project, store, clock, token),
            lifespan="off", ws="none", log_config=None, access_log=False, server_header=False,
            proxy_headers=False,  # the throttle counts the peer's address, not a header's
        )  # fmt: skip
        server = Server(config)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, lambda: setattr(server, "should_exit", True))
        task = loop.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            host, port = sock.getsockname()[:2]
            echo_err(
                f"touchflow console (read-only) at http://{host}:{port}/console/ · Ctrl-C stops it"
            )
        try:
            await task
        finally:
            sock.close()
