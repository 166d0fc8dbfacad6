"""Fixtures for running the CLI on a copy of the bundled sample project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_PARTS = ("touchflow.yaml", "rules", "message_templates", "sample")


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the bundled sample project (the repo root), so tests never touch its store."""
    for part in SAMPLE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, tmp_path / part)
        else:
            shutil.copy(source, tmp_path / part)
    return tmp_path
