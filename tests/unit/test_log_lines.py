"""A log record is one line whatever the data holds: nobody can write a line that
looks like touchflow's by putting a line break into an id, a reply or a reason."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from touchflow import logs
from touchflow.models import Category
from touchflow.send.outbox import OutboxRow, OutboxState, Transition

FAKE = "2026-12-06T09:00:00Z WARNING fake"
RECORD_START = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")
BREAKS = ["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c"]


@pytest.fixture
def printed() -> Iterator[io.StringIO]:
    saved = {
        name: (lg.handlers[:], lg.level, lg.propagate)
        for name in ("touchflow", "apscheduler", "uvicorn")
        for lg in [logging.getLogger(name)]
    }
    yield io.StringIO()
    for name, (handlers, level, propagate) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


def lines(text: str) -> list[str]:
    # Every way a reader might split lines, not only "\n".
    return text.splitlines()


def failed_row(customer: str, detail: str) -> OutboxRow:
    at = datetime(2026, 12, 6, 9, tzinfo=UTC)
    return OutboxRow(
        key="ack:c1:q-1:0",
        rule_id="ack",
        customer_id=customer,
        category=Category.TRANSACTIONAL,
        due_at=at,
        expires_at=at,
        state=OutboxState.FAILED,
        reason="rejected",
        last_error=detail,
        next_attempt_at=at,
        counts_for_caps=False,
    )


@pytest.mark.parametrize("brk", BREAKS, ids=ascii)
def test_a_line_break_in_the_message_or_a_field_stays_on_the_one_line(
    printed: io.StringIO, brk: str
) -> None:
    logs.setup("text", "info", stream=printed)
    forged = f"c1{brk}{FAKE}"
    logs.log.warning(
        "HTTP: erased customer %s", forged, extra={"tf": {"customer": forged, "detail": forged}}
    )
    [line] = lines(printed.getvalue())
    assert RECORD_START.match(line)
    assert line.count("WARNING") == 4  # its level, and the three copies
    assert "c1\\" in line  # the break is shown, as an escape


def test_a_state_line_shows_every_field_escaped(printed: io.StringIO) -> None:
    logs.setup("text", "info", stream=printed)
    old = OutboxState.CLAIMED
    logs.transition(Transition(row=failed_row(f"c1\n{FAKE}", f"550 no\r\n{FAKE}"), old=old))
    [line] = lines(printed.getvalue())
    assert line.endswith(
        f'[key=ack:c1:q-1:0 rule=ack customer="c1\\n{FAKE}" reason=rejected '
        f"detail=550 no\\r\\n{FAKE}]"
    )


def test_a_field_that_could_pass_for_more_fields_is_quoted(printed: io.StringIO) -> None:
    logs.setup("text", "info", stream=printed)
    logs.transition(Transition(row=failed_row("c1 reason=sent]", "550 a b"), old=None))
    assert 'customer="c1 reason=sent]" reason=rejected detail=550 a b]' in printed.getvalue()


def test_a_traceback_is_indented_so_none_of_its_lines_passes_for_a_record(
    printed: io.StringIO,
) -> None:
    logs.setup("text", "info", stream=printed)
    try:
        raise ValueError(f"bad id c1\n{FAKE}\u2028{FAKE}")
    except ValueError:
        logs.log.exception("plan failed")
    first, *rest = lines(printed.getvalue())
    assert first.endswith("ERROR   plan failed")
    assert rest and all(line.startswith("    ") for line in rest)
    assert f"    ValueError: bad id c1\n    {FAKE}\\u2028{FAKE}" in printed.getvalue()


@pytest.mark.parametrize("brk", BREAKS, ids=ascii)
def test_the_json_log_is_one_line_that_reads_back_exactly(printed: io.StringIO, brk: str) -> None:
    logs.setup("json", "info", stream=printed)
    forged = f"c1{brk}{FAKE}\ud800"
    logs.log.warning("erased %s", forged, extra={"tf": {"customer": forged}})
    [line] = lines(printed.getvalue())
    assert line.isascii() or line.isprintable()
    doc = json.loads(line)
    assert (doc["msg"], doc["customer"]) == (f"erased {forged}", forged)
