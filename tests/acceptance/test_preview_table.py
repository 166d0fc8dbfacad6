"""`touchflow preview` as ops read it: the window a date means, and what the table says.

In-process through click's runner (the same command, without a new interpreter
per call), on a copy of the sample project; the table is 160 columns wide, as
when its output is piped.
"""

from __future__ import annotations

import json
from pathlib import Path

from daemon_support import invoke

# Anna (c-001) lives in Europe/Berlin, the project's zone; the appointment reminder
# goes 24 hours and 2 hours before.
BOOKINGS = [
    # 2027-10-31 has 25 hours: reminders at 02:30 (CEST) and at 23:30 (CET).
    ("apt-autumn", "2027-11-01T01:30:00+01:00"),
    # 2027-03-28 has 23 hours: 01:30 (CET); the 2-hour one is at 00:30 on the 29th.
    ("apt-spring", "2027-03-29T02:30:00+02:00"),
    # An ordinary day: 01:30 and 23:30 on 2027-11-10.
    ("apt-ordinary", "2027-11-11T01:30:00+01:00"),
]


def with_bookings(sample: Path) -> Path:
    with (sample / "sample" / "events.jsonl").open("a", encoding="utf-8") as events:
        for n, (appointment, starts) in enumerate(BOOKINGS):
            data = {"appointment_id": appointment, "starts_at": starts, "service": "Cut"}
            booked = {"id": f"b-{n}", "type": "appointment_booked", "customer": "c-001",
                      "at": "2027-01-01T10:00:00Z", "data": data}  # fmt: skip
            events.write(json.dumps(booked) + "\n")
    return sample


def cells(table: str) -> list[list[str]]:
    """The table's rows as lists of cell texts (a wrapped cell's later lines are rows too)."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in table.splitlines()
        if line.startswith("│")
    ]


def local_times(project: Path, day: str) -> list[str]:
    out = invoke(
        project, "preview", "--now", day, "--days", "1", "--format", "json",
        "--rule", "appointment-reminder", "--customer", "c-001",
    ).stdout  # fmt: skip
    return [item["local_send_at"] for item in json.loads(out)]


def test_a_date_previews_that_whole_day_in_the_project_zone(sample: Path) -> None:
    project = with_bookings(sample)
    assert local_times(project, "2027-10-31") == [
        "2027-10-31T02:30:00+02:00",
        "2027-10-31T23:30:00+01:00",  # the 25th hour: the old 24-hour window missed it
    ]
    # The short day does not run into the next one, which has its own reminder.
    assert local_times(project, "2027-03-28") == ["2027-03-28T01:30:00+01:00"]
    assert local_times(project, "2027-03-29") == ["2027-03-29T00:30:00+02:00"]
    assert local_times(project, "2027-11-10") == [
        "2027-11-10T01:30:00+01:00",
        "2027-11-10T23:30:00+01:00",
    ]


def test_the_table_header_shows_the_real_span(sample: Path) -> None:
    project = with_bookings(sample)
    autumn = invoke(project, "preview", "--now", "2027-10-31", "--days", "1").stdout
    assert autumn.startswith(
        "Touchpoints due from 2027-10-31 00:00 to 2027-11-01 00:00 (Europe/Berlin, 25 hours):"
    )
    assert ["23:30", "Sun 23:30 Europe/Berlin", "appointment-reminder", "c-001"] in [
        row[:4] for row in cells(autumn)
    ]
    ordinary = invoke(project, "preview", "--now", "2027-11-10", "--days", "1").stdout
    assert ordinary.startswith(
        "Touchpoints due from 2027-11-10 00:00 to 2027-11-11 00:00 (Europe/Berlin): "
    )


def test_the_table_shows_adjustments_and_why_each_one_is_held(sample: Path) -> None:
    invoke(sample, "sample", "--now", "2026-11-22")
    out = invoke(
        sample, "preview", "--now", "2026-12-31", "--days", "3", "--all", "--rule", "monthly-sale"
    ).stdout
    # New Year's Day moves the sale to the 2nd; Chloe's address is suppressed.
    rows = {row[3]: row for row in cells(out) if row[2] == "monthly-sale"}
    assert rows["c-001"][6:] == ["planned", "moved off a holiday"]
    assert rows["c-007"][6] == "held: suppressed"
    # The notes column wraps at 160 characters: read it without the breaks.
    notes = "".join(row[7] for row in cells(out) if len(row) == 8).replace(" ", "")
    assert "movedoffaholiday;chloe.tremblay@example.caissuppressed" in notes
    assert "movedoffaholiday;customerhasnotconsentedtomarketing" in notes


def test_the_per_rule_summary_keeps_to_the_rule_asked_for(sample: Path) -> None:
    out = invoke(sample, "preview", "--now", "2026-12-31", "--days", "3", "--rule", "monthly-sale")
    summary = cells(out.stdout.split("Per rule")[1])
    assert [row[0] for row in summary] == ["monthly-sale"]
