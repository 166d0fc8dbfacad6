"""The first run raises no false alarm; real downtime still warns, once, with its count.

What expired before its customer was stored (the sample's sale of last week, a
birthday five days before the project existed) was never the daemon's to send:
no warning, no row. What came due and expired while no daemon ran is counted in
one WARNING line; each touchpoint is an INFO line.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from daemon_support import ANA, by_key, inquiry, outbox, touchflow, write_project

START = datetime.fromisoformat("2026-11-23T08:00:00+00:00")


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " WARNING " in line]


def test_the_first_run_on_a_fresh_sample_warns_of_nothing(sample: Path) -> None:
    result = touchflow("run", "--once", cwd=sample)
    assert "Loaded the sample data" in result.stderr
    assert warnings(result.stderr) == []
    assert outbox(sample, "expired") == []
    # What the sample has that is still worth sending goes out: the inquiry from
    # five minutes before the sample was loaded.
    assert "inquiry-acknowledgement:c-006:q-3000:0" in by_key(outbox(sample, "sent"))


BIRTHDAY_RULE = """\
- id: first-run-birthday
  category: transactional
  trigger: {yearly: customer.birthday}
  at: "09:00"
  action: {template: first_run_birthday}
"""
BORN_FIVE_DAYS_AGO = (
    '{"id": "c-2", "email": "bo@example.com", "first_name": "Bo", '
    '"timezone": "Europe/London", "birthday": "{{ ago(years=30, days=-5) }}"}\n'
)


def test_a_new_project_with_a_birthday_five_days_before_it_existed_warns_of_nothing(
    tmp_path: Path,
) -> None:
    touchflow("init", "shop", cwd=tmp_path)
    shop = tmp_path / "shop"
    (shop / "rules" / "first-run-birthday.yaml").write_text(BIRTHDAY_RULE, encoding="utf-8")
    templates = shop / "message_templates" / "first_run_birthday"
    templates.mkdir()
    (templates / "subject.txt").write_text("Happy birthday\n", encoding="utf-8")
    (templates / "body.txt").write_text("Hello {{ customer.first_name }}\n", encoding="utf-8")
    with (shop / "sample" / "customers.jsonl").open("a", encoding="utf-8") as customers:
        customers.write(BORN_FIVE_DAYS_AGO)

    result = touchflow("run", "--once", cwd=shop)
    assert "Loaded the sample data (2 customers" in result.stderr
    assert warnings(result.stderr) == []
    assert [row["key"] for row in outbox(shop) if row["rule"] == "first-run-birthday"] == []


def test_downtime_longer_than_a_touchpoint_lives_warns_once_with_the_count(
    tmp_path: Path,
) -> None:
    # Two inquiries on the third day, past the first run's two-day horizon: their
    # immediate answers live a day, and the daemon is back only on the fifth.
    project = write_project(
        tmp_path,
        customers=[ANA],
        events=[inquiry(1, hours=48 + 4), inquiry(2, hours=48 + 8)],
    )
    first = touchflow("run", "--once", "--now", START.isoformat(), cwd=project)
    assert warnings(first.stderr) == []

    later = START + timedelta(days=5)
    result = touchflow("run", "--once", "--now", later.isoformat(), cwd=project)
    (warning,) = warnings(result.stderr)
    assert re.search(
        r"2 touchpoint\(s\) expired while no daemon ran .*the first due 2026-11-25 11:30 UTC, "
        r"the last 2026-11-25 15:30 UTC",
        warning,
    ), warning
    # Each one is still in the log (at INFO) and in the outbox, with its reason.
    for key in ("ack:c1:q-1:0", "ack:c1:q-2:0"):
        assert re.search(rf" INFO +{re.escape(key)} new → expired", result.stderr), key
        assert by_key(outbox(project, "expired"))[key]["reason"] == "expired"
    # The answers that live seven days go out late.
    assert {"late-ok:c1:q-1:2h-after", "late-ok:c1:q-2:2h-after"} <= set(
        by_key(outbox(project, "sent"))
    )
