"""`touchflow import` as an ops person runs it: what it says, what it refuses, what it shows."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from daemon_support import touchflow

CUSTOMERS = (
    "id,email,timezone\nc-1,one@example.com,Europe/Berlin\nc-2,two@example.com,Europe/Paris\n"
)


def event(event_id: str, customer: str, at: str, **data: str) -> str:
    line = {"id": event_id, "type": "inquiry_received", "customer": customer, "at": at}
    return json.dumps({**line, "data": data}) + "\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _recorded_at(sample: Path, customer: str) -> dict[str, str]:
    listed = touchflow("events", "list", "--customer", customer, "--format", "json", cwd=sample)
    return {e["id"]: e["recorded_at"] for e in json.loads(listed.stdout)["events"]}


def test_an_import_records_its_events_at_its_clock(sample: Path, tmp_path: Path) -> None:
    touchflow("import", "customers", str(write(tmp_path / "c.csv", CUSTOMERS)), cwd=sample)
    lines = event("q-1", "c-1", "2026-05-01T10:00:00Z", inquiry_id="i-1", subject="Hours?")
    lines += event("q-2", "c-1", "2026-05-02T10:00:00Z", inquiry_id="i-2", subject="Open?")
    before = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
    touchflow("import", "events", str(write(tmp_path / "e.jsonl", lines)), cwd=sample)
    recorded = _recorded_at(sample, "c-1")
    assert set(recorded) == {"q-1", "q-2"} and len(set(recorded.values())) == 1  # one clock
    assert recorded["q-1"] >= before  # now, not when the events happened


def test_a_re_import_says_which_customers_are_new_updated_and_unchanged(
    sample: Path, tmp_path: Path
) -> None:
    first = write(tmp_path / "customers.csv", CUSTOMERS)
    result = touchflow("import", "customers", str(first), cwd=sample)
    assert result.stdout == f"Imported 2 customers from {first}: 2 new.\n"
    again = write(
        tmp_path / "again.csv",
        "id,email,timezone\n"
        "c-1,one@example.com,Europe/Berlin\n"
        "c-2,moved@example.com,Europe/Paris\n"
        "c-3,three@example.com,Europe/Rome\n",
    )
    result = touchflow("import", "customers", str(again), cwd=sample)
    assert result.stdout == f"Imported 3 customers from {again}: 1 new, 1 updated, 1 unchanged.\n"


def test_an_event_of_an_unknown_customer_is_refused_at_its_line(
    sample: Path, tmp_path: Path
) -> None:
    touchflow("import", "customers", str(write(tmp_path / "c.csv", CUSTOMERS)), cwd=sample)
    events = write(
        tmp_path / "events.jsonl",
        event("q-1", "c-1", "2026-05-01T10:00:00Z", inquiry_id="i-1", subject="Hours?")
        + event("q-2", "c-999", "2026-05-01T11:00:00Z", inquiry_id="i-2", subject="Prices?"),
    )
    result = touchflow("import", "events", str(events), cwd=sample, check=False)
    assert result.returncode == 2
    assert result.stderr == (
        f"{events}:2: no customer 'c-999' in the store (import customers first)\n1 problem found.\n"
    )
    # All or nothing: q-1 was not recorded either.
    fixed = write(tmp_path / "fixed.jsonl", events.read_text().splitlines(keepends=True)[0])
    assert "Imported 1 event" in touchflow("import", "events", str(fixed), cwd=sample).stdout


def test_an_event_id_recorded_with_other_data_is_refused_and_a_repeat_is_idempotent(
    sample: Path, tmp_path: Path
) -> None:
    touchflow("import", "customers", str(write(tmp_path / "c.csv", CUSTOMERS)), cwd=sample)
    line = event("q-1", "c-1", "2026-05-01T10:00:00Z", inquiry_id="i-1", subject="Hours?")
    events = write(tmp_path / "events.jsonl", line)
    touchflow("import", "events", str(events), cwd=sample)
    recorded = _recorded_at(sample, "c-1")
    repeat = touchflow("import", "events", str(events), cwd=sample)
    assert repeat.stdout == f"Imported 0 events from {events} (1 already known).\n"
    assert _recorded_at(sample, "c-1") == recorded  # the first time it was recorded

    changed = write(
        tmp_path / "changed.jsonl",
        event("q-0", "c-2", "2026-05-01T09:00:00Z", inquiry_id="i-0", subject="Hi")
        + event("q-1", "c-1", "2026-05-01T12:00:00Z", inquiry_id="i-1", subject="Hours!"),
    )
    result = touchflow("import", "events", str(changed), cwd=sample, check=False)
    assert result.returncode == 2
    assert result.stderr == (
        f"{changed}:2: event id 'q-1' is already recorded with different data "
        "(at: recorded 2026-05-01T10:00:00Z, here 2026-05-01T12:00:00Z; "
        'data.subject: recorded "Hours?", here "Hours!"); '
        "event ids must be unique: give a different event a new id\n"
        "1 problem found.\n"
    )
    # All or nothing: q-0, new and fine, was not recorded either.
    q0 = write(tmp_path / "q0.jsonl", changed.read_text().splitlines(keepends=True)[0])
    assert "Imported 1 event" in touchflow("import", "events", str(q0), cwd=sample).stdout


def test_a_semicolon_csv_from_a_spreadsheet_is_read(sample: Path, tmp_path: Path) -> None:
    semicolons = write(
        tmp_path / "export.csv",
        'id;email;timezone;last_name\nc-1;one@example.com;Europe/Berlin;"Smith, Jr."\n',
    )
    result = touchflow("import", "customers", str(semicolons), cwd=sample)
    assert result.stdout == f"Imported 1 customer from {semicolons}: 1 new.\n"


def test_progress_is_shown_on_a_terminal_and_nothing_elsewhere(
    sample: Path, tmp_path: Path
) -> None:
    customers = write(tmp_path / "customers.csv", CUSTOMERS)
    quiet = touchflow("import", "customers", str(customers), cwd=sample)
    assert quiet.stderr == ""

    controller, terminal = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    with subprocess.Popen(
        [sys.executable, "-m", "touchflow", "import", "customers", str(customers)],
        cwd=sample, stdout=subprocess.PIPE, stderr=terminal, env=env,
    ) as process:  # fmt: skip
        os.close(terminal)
        shown = _read_all(controller)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "2 unchanged" in out.decode()
    assert "Reading customers.csv" in shown and "3/3" in shown and "lines" in shown
    assert "Writing to the store" in shown and "2/2" in shown and "rows" in shown


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed (Linux: EIO)
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def test_a_problem_after_many_rows_undoes_every_row_written_before_it(
    sample: Path, tmp_path: Path
) -> None:
    # More rows than a chunk (10k): the first chunks are written before the problem is read.
    rows = "".join(f"c-{i},c{i}@example.com,Europe/Berlin\n" for i in range(1, 25_001))
    bad = write(tmp_path / "big.csv", "id,email,timezone\n" + rows + "c-7,,Europe/Berlin\nc-x,x@\n")
    result = touchflow("import", "customers", str(bad), cwd=sample, check=False)
    assert result.returncode == 2
    assert result.stderr == (
        f'{bad}:25002: id "c-7" appears twice (lines 8 and 25002)\n'
        f"{bad}:25003: row has 2 cells but the header has 3; quote cells that contain commas\n"
        "2 problems found.\n"
    )
    good = write(tmp_path / "customers.csv", CUSTOMERS)
    result = touchflow("import", "customers", str(good), cwd=sample)
    assert result.stdout == f"Imported 2 customers from {good}: 2 new.\n"

    lines = "".join(
        event(f"q-{i}", "c-1", "2026-05-01T10:00:00Z", inquiry_id=f"i-{i}", subject="Hours?")
        for i in range(1, 25_001)
    )
    unknown = event("q-0", "c-999", "2026-05-01T10:00:00Z", inquiry_id="i-0", subject="?")
    events = write(tmp_path / "events.jsonl", lines + unknown)
    result = touchflow("import", "events", str(events), cwd=sample, check=False)
    assert result.returncode == 2
    assert result.stderr == (
        f"{events}:25001: no customer 'c-999' in the store (import customers first)\n"
        "1 problem found.\n"
    )
    one = write(tmp_path / "one.jsonl", lines.splitlines(keepends=True)[0])
    result = touchflow("import", "events", str(one), cwd=sample)
    assert result.stdout == f"Imported 1 event from {one}.\n"


def test_a_problem_on_the_lines_after_the_last_whole_chunk_still_stores_nothing(
    sample: Path, tmp_path: Path
) -> None:
    # Exactly one chunk (10k rows) of good customers, then a bad line: no chunk follows
    # the problem, and the chunk before it must still be undone.
    rows = "".join(f"c-{i},c{i}@example.com,Europe/Berlin\n" for i in range(1, 10_001))
    bad = write(tmp_path / "chunk.csv", "id,email,timezone\n" + rows + "c-x,x@\n")
    result = touchflow("import", "customers", str(bad), cwd=sample, check=False)
    assert result.returncode == 2
    assert result.stderr == (
        f"{bad}:10002: row has 2 cells but the header has 3; quote cells that contain commas\n"
        "1 problem found.\n"
    )
    good = write(tmp_path / "customers.csv", CUSTOMERS)
    result = touchflow("import", "customers", str(good), cwd=sample)
    assert result.stdout == f"Imported 2 customers from {good}: 2 new.\n"
