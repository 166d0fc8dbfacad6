"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from http_support import Setup, http_api
from smtp_support import Handler


@pytest.fixture(params=[False, True], ids=["one-by-one", "pipelined"])
def smtp_pipelining(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run a test against a server that sends one command at a time, then against one
    that offers PIPELINING: every answer must mean the same either way."""
    monkeypatch.setattr(Handler, "pipelining", request.param)
    offered: bool = request.param
    return offered


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Setup]:
    """The daemon's HTTP app in this process, on a fresh project (Ana, Ben), planned at NOW.

    A test module that needs other events defines an ``api`` of its own, which wins.
    """
    async with http_api(tmp_path) as setup:
        yield setup
