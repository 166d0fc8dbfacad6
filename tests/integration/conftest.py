"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest
from smtp_support import Handler


@pytest.fixture(params=[False, True], ids=["one-by-one", "pipelined"])
def smtp_pipelining(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run a test against a server that sends one command at a time, then against one
    that offers PIPELINING: every answer must mean the same either way."""
    monkeypatch.setattr(Handler, "pipelining", request.param)
    offered: bool = request.param
    return offered
