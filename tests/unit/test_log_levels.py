"""`--log-level` filters what is printed, not what the metrics read."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from touchflow import logs


@pytest.fixture
def restored() -> Iterator[None]:
    saved = {
        name: (lg.handlers[:], lg.level, lg.propagate)
        for name in ("touchflow", "apscheduler", "uvicorn")
        for lg in [logging.getLogger(name)]
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


class Seen(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.usefixtures("restored")
def test_warning_level_prints_warnings_only_while_info_records_still_reach_observers() -> None:
    printed = io.StringIO()
    logs.setup("text", "warning", stream=printed)
    assert not logs.log.isEnabledFor(logging.INFO)  # nobody reads INFO: none is built
    seen = Seen()
    before = logs.observe(seen)  # as the metrics do
    logs.log.info("planned 3 customers", extra={"tf": {"event": "plan", "seconds": 0.1}})
    logs.log.warning("took back 1 claim")
    assert "took back 1 claim" in printed.getvalue()
    assert "planned" not in printed.getvalue()
    assert seen.messages == ["planned 3 customers", "took back 1 claim"]
    assert logging.getLogger("uvicorn").level == logging.WARNING
    logs.unobserve(seen, before)
    assert not logs.log.isEnabledFor(logging.INFO)


@pytest.mark.usefixtures("restored")
def test_debug_level_still_prints_debug() -> None:
    printed = io.StringIO()
    logs.setup("json", "debug", stream=printed)
    logs.log.debug("details")
    assert '"msg": "details"' in printed.getvalue()
