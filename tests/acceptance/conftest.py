"""Fixtures for running the CLI on a copy of the bundled sample project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_PARTS = ("touchflow.yaml", "rules", "message_templates", "sample")


def copy_sample(dest: Path) -> Path:
    """A copy of the bundled sample project (the repo root) in ``dest``."""
    for part in SAMPLE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part)
        else:
            shutil.copy(source, dest / part)
    return dest


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the sample project, so tests never touch the repository's own store."""
    return copy_sample(tmp_path)
