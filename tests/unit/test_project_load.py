"""Loading a project, as every command starts (issue 15: start-up).

A load makes tens of thousands of objects that last as long as the project (the
rules, the templates' syntax trees and compiled code) and no garbage cycles worth
a collection; on the sample the cyclic collector used to spend about a tenth of the
start-up walking them. So the load pauses it (touchflow.collector).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from touchflow.project import load_project_checked

SAMPLE = Path(__file__).resolve().parents[2]  # the repository root is the sample project


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every collection the cyclic collector starts meanwhile."""
    started: list[int] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.collect()
    gc.callbacks.append(note)
    try:
        yield started
    finally:
        gc.callbacks.remove(note)


def test_loading_the_sample_runs_at_most_one_young_collection(collections: list[int]) -> None:
    project = load_project_checked(SAMPLE)
    assert len(project.rules) > 10
    # Unpaused: about 40 young collections, 4 middle and one full (20 ms of 27).
    # Paused, the first allocation after the load may still start one young collection.
    assert collections in ([], [0])
    assert gc.isenabled()


def test_the_collector_runs_as_usual_after_a_load(collections: list[int]) -> None:
    load_project_checked(SAMPLE)
    garbage = []
    for _ in range(gc.get_threshold()[0] * 2):
        pair: list[Any] = []
        pair.append(pair)
        garbage.append(pair)
    assert collections != []
