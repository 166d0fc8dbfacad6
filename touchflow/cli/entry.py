"""The `touchflow` script's entry point: the command line imported with the collector paused.

Importing the command line makes about 60,000 objects the collector tracks (modules,
classes, functions) that live as long as the process and are never garbage. The
cyclic collector would walk them some 70 times while they are made and again after
(about 13 ms of the sample's 0.35 s start-up, issue 15), so the import runs with it
paused, and what it made is then frozen (``gc.freeze``): moved out of the collector's
way for the rest of the process, a daemon's full collections included. Only the
process the command runs in does this; importing ``touchflow.cli.main`` (tests,
benchmarks) changes nothing of the collector.
"""

from __future__ import annotations

import gc

from touchflow.collector import collector_paused


def main() -> None:
    with collector_paused():
        from touchflow.cli.main import main as run_command

        gc.freeze()
    run_command()
