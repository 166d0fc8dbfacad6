"""Fixtures for running the CLI on a copy of the bundled sample project."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_support import copy_sample


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the sample project, so tests never touch the repository's own store."""
    return copy_sample(tmp_path)
