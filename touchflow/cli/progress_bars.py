"""Progress bars for long CLI work: on standard error, and only on a terminal.

An import of 100k rows takes seconds; silence looks like a hang. Under cron, in
a pipe or in tests standard error is no terminal, and nothing is drawn.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from touchflow.cli.flows import ImportProgress


class ImportBars:
    """``ImportProgress`` as two bars: the file's lines read, the rows written."""

    def __init__(self, file: Path, console: Console) -> None:
        self._file = file
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}

    def reading(self, done: int, total: int) -> None:
        self._show(f"Reading {self._file.name}", done, total, "lines")

    def writing(self, done: int, total: int) -> None:
        self._show("Writing to the store", done, total, "rows")

    def _show(self, description: str, done: int, total: int, unit: str) -> None:
        task = self._tasks.get(description)
        if task is None:
            task = self._bars.add_task(description, total=total, unit=unit)
            self._tasks[description] = task
        self._bars.update(task, completed=done, total=total)

    def start(self) -> None:
        self._bars.start()

    def stop(self) -> None:
        self._bars.stop()


@contextmanager
def import_progress(file: Path, console: Console | None = None) -> Iterator[ImportProgress | None]:
    """Bars for importing ``file`` if ``console`` (default: standard error) is a terminal."""
    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    bars = ImportBars(file, console)
    bars.start()
    try:
        yield bars
    finally:
        bars.stop()
