"""An id with a line break is refused at the door, with its line or option, exit 2:
no import or event can put a second line into a log line or an error."""

from __future__ import annotations

from pathlib import Path

from daemon_support import touchflow

FORGED = "c1\n2026-12-06T09:00:00Z WARNING fake"


def test_import_customers_refuses_a_forged_id_at_its_line(sample: Path, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(f'id,email\nc-1,one@example.com\n"{FORGED}",two@example.com\n')
    result = touchflow("import", "customers", str(path), cwd=sample, check=False)
    assert result.returncode == 2
    first, *rest = result.stderr.splitlines()
    assert first.startswith(f'{path}:3: id "c1\\n2026-12-06T09:00:00Z WARNING fake" holds U+000A')
    assert rest == ["1 problem found."]


def test_touchflow_event_refuses_a_forged_customer_naming_the_option(sample: Path) -> None:
    result = touchflow("event", "inquiry_received", "--customer", FORGED, cwd=sample, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith('--customer: customer "c1\\n2026-12-06T09:00:00Z WARNING')
    assert len(result.stderr.splitlines()) == 2, result.stderr
