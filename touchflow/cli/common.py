"""What every `touchflow` command shares: the group, its options, error handling."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from touchflow import clock
from touchflow.errors import InputError, Problem, ProblemsError, TouchflowError
from touchflow.plan.moment import BadMoment, Moment, read_moment

T = TypeVar("T")

EPILOG = """\b
Exit codes: 0 success · 1 operational failure · 2 a mistake in rules,
templates, configuration, input files or arguments (each shown as file:line).
Docs: README.md, docs/rules.md, docs/cli.md."""


def echo_err(message: str) -> None:
    """A note or an error for the user, on stderr (stdout stays the command's output)."""
    click.echo(message, err=True)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's async flow: the one ``asyncio.run`` of a command."""
    return asyncio.run(coro)


def handle_errors(func: Callable[..., None]) -> Callable[..., None]:
    """User mistakes become `path:line: message` lines and exit 2 — never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except ProblemsError as exc:
            for problem in exc.problems:
                echo_err(str(problem))
            count = len(exc.problems)
            echo_err(f"{count} problem{'s' if count != 1 else ''} found.")
            sys.exit(exc.exit_code)
        except TouchflowError as exc:
            echo_err(f"error: {exc}")
            sys.exit(exc.exit_code)

    return wrapper


def project_option(func: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--project",
        "project_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default="the current directory",
        help="The project directory (holding rules/, message_templates/, touchflow.yaml).",
    )(func)


def parse_now(value: str | None, tz_name: str) -> datetime:
    """`--now`: an ISO 8601 instant with offset, or a date (midnight in the project zone)."""
    return read_now(value, tz_name).instant


def read_now(value: str | None, tz_name: str) -> Moment:
    """`--now` as given: the preview counts whole local days from a date."""
    if value is None:
        return Moment(instant=clock.now(), timezone=tz_name)
    try:
        return read_moment(value, tz_name)
    except BadMoment as exc:
        raise arg_error("--now", str(exc)) from None


def arg_error(option: str, message: str) -> InputError:
    """A wrong command-line argument, reported as ``OPTION: message`` (exit 2)."""
    return InputError([Problem(path=option, line=None, message=message)])


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="touchflow")
def cli() -> None:
    """touchflow: customer touchpoints as reviewed, versioned YAML.

    \b
    Start here (in a project directory, or pass --project DIR):
      touchflow init shop && cd shop    a new project with sample data
      touchflow validate                check rules and templates (file:line)
      touchflow preview                 what the next 7 days send, rendered
      touchflow preview --days 30 --format json
      touchflow import customers FILE   your customers (.csv or .jsonl)
      touchflow import events FILE      their events (.jsonl)
    """
