"""`touchflow --help` teaches: where to start, and a whole phrase for every command."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from touchflow.cli.main import cli

# Click cuts a docstring's first sentence at the width left for it, with "...";
# 45 is what it leaves on a narrow terminal.
NARROW = 45


def groups(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from groups(command, (*path, name))


def commands(group: click.Group, path: str = "touchflow") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield f"{path} {name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{path} {name}")


def summaries(help_text: str) -> dict[str, str]:
    """The command list of a help page: name -> one-line summary (wrapped lines joined)."""
    listed: dict[str, str] = {}
    section = help_text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    name = ""
    for line in section.splitlines():
        match = re.match(r"  (\S+)\s+(.*)", line)
        if match:
            name = match.group(1)
            listed[name] = match.group(2)
        else:
            listed[name] += " " + line.strip()
    return listed


@pytest.mark.parametrize("path", list(groups(cli)), ids=lambda p: " ".join(("touchflow", *p)))
def test_every_listed_summary_is_a_whole_phrase(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    listed = summaries(result.output)
    assert listed
    for name, summary in listed.items():
        assert not summary.endswith(("...", ",", ":", "e.g.")), f"{name}: {summary!r}"


@pytest.mark.parametrize("name", [name for name, _ in commands(cli)])
def test_no_summary_is_cut_even_on_a_narrow_terminal(name: str) -> None:
    command = dict(commands(cli))[name]
    summary = command.get_short_help_str(NARROW)
    assert summary and not summary.endswith("..."), f"{name}: {summary!r}"


def test_start_here_lists_init_and_import() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    start = result.output.split("Start here", 1)[1].split("Options:", 1)[0]
    for command in ("init", "validate", "preview", "import customers", "import events"):
        assert f"touchflow {command}" in start
