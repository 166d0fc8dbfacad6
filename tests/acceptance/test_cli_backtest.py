"""`touchflow backtest` against a history the daemon really made: the daemon runs
(`touchflow run --once --now T`, a subprocess each) tick by tick over four days, while
events, a customer and a suppression are recorded between ticks; with the rules
unchanged the backtest replays exactly what the outbox shows was sent, key by key and
day by day; with a rule added it names exactly the keys that rule would have sent."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from daemon_support import CONFIG, RULES, outbox, touchflow, write_project
from support import utc

from touchflow.models import Customer, Event, Suppression, SuppressionScope
from touchflow.store import open_store

DAYS = ("2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07")
TICKS = ("06:00", "12:00", "18:00", "23:30")
NOW = "2027-01-08T00:00:00Z"
TIP = """
- id: tip
  category: marketing
  trigger: {cron: "0 10 * * *"}
  action: {template: tip}
"""
FOLLOW_UP = """
- id: follow-up
  category: transactional
  trigger: {event: inquiry_received, occurrence: event.data.inquiry_id}
  send: 1 day after
  action: {template: ack}
"""
CUSTOMERS = [
    {"id": f"c{n}", "email": f"c{n}@example.com", "first_name": name}
    for n, name in ((1, "Ana"), (2, "Ben"), (3, "Cleo"))
]


def booked(n: int, customer: str, starts: str, at: str) -> Event:
    data = {"appointment_id": f"a-{n}", "starts_at": starts}
    return Event(id=f"b{n}", type="appointment_booked", customer_id=customer, at=utc(at), data=data)


def asked(n: int, customer: str, at: str) -> Event:
    data = {"inquiry_id": f"q-{n}", "subject": "Hello"}
    return Event(id=f"q{n}", type="inquiry_received", customer_id=customer, at=utc(at), data=data)


# What the store learns between ticks: (when it is recorded, what).
HISTORY: list[tuple[str, Any]] = [
    ("2027-01-04T09:00:00Z", booked(1, "c1", "2027-01-06T12:00:00Z", "2027-01-04T09:00:00Z")),
    ("2027-01-04T10:00:00Z", asked(1, "c2", "2027-01-04T10:00:00Z")),
    # Booked for this evening, recorded after its reminder was due: caught up.
    ("2027-01-05T07:00:00Z", booked(2, "c1", "2027-01-05T20:00:00Z", "2027-01-05T07:00:00Z")),
    ("2027-01-05T13:00:00Z", booked(3, "c3", "2027-01-07T12:00:00Z", "2027-01-05T13:00:00Z")),
    ("2027-01-05T14:00:00Z", Customer(id="c4", email="c4@example.com", first_name="Dan")),
    ("2027-01-05T14:30:00Z", asked(2, "c4", "2027-01-05T14:30:00Z")),
    # Cancelled before its reminder: never sent.
    ("2027-01-06T08:00:00Z", Event(id="x3", type="appointment_cancelled", customer_id="c3",
                                   at=utc("2027-01-06T08:00:00Z"), data={"appointment_id": "a-3"})),
    ("2027-01-06T08:00:00Z", Suppression(email="c2@example.com", scope=SuppressionScope.MARKETING,
                                         reason="unsubscribed")),
    # Erased, and back half an hour later: a new customer to the store.
    ("2027-01-06T09:00:00Z", "erase c3"),
    ("2027-01-06T09:30:00Z", Customer(id="c3", email="c3@example.com", first_name="Cleo")),
    # Asked at 10:00, recorded only at 19:00: answered late, the same day.
    ("2027-01-06T19:00:00Z", asked(3, "c1", "2027-01-06T10:00:00Z")),
]  # fmt: skip


async def record(project: Path, moment: datetime, what: Any) -> None:
    async with await open_store(project / ".touchflow" / "store.sqlite3") as store:
        if what == "erase c3":
            await store.erase_customer("c3")
        elif isinstance(what, Customer):
            await store.upsert_customers([what], now=moment)
        elif isinstance(what, Suppression):
            dated = Suppression(
                email=what.email, scope=what.scope, reason=what.reason, created_at=moment
            )
            await store.add_suppression(dated)
        else:
            await store.add_events([what], now=moment)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project the daemon ran over 4-7 January 2027, with the store learning HISTORY."""
    project = write_project(
        tmp_path_factory.mktemp("backtest"), customers=CUSTOMERS, rules=RULES + TIP,
        config=CONFIG.replace("sample: sample", "sample: sample\nstore: .touchflow/store.sqlite3"),
    )  # fmt: skip
    tip = project / "message_templates" / "tip"
    tip.mkdir()
    (tip / "subject.txt").write_text("Today's tip", encoding="utf-8")
    (tip / "body.txt").write_text("Hello {{ customer.first_name }}.", encoding="utf-8")
    learnt = sorted(HISTORY, key=lambda item: item[0])
    # Ticks through each day, and one a minute after the store learns something, as a
    # running daemon re-plans a changed customer at once.
    ticks = {utc(f"{day}T{tick}:00Z") for day in DAYS for tick in TICKS}
    ticks |= {utc(when) + timedelta(minutes=1) for when, _ in HISTORY}
    for moment in sorted(ticks):
        while learnt and utc(learnt[0][0]) <= moment:
            when, what = learnt.pop(0)
            asyncio.run(record(project, utc(when), what))
        touchflow("run", "--once", "--now", moment.isoformat(), "--log-level", "warning",
                  cwd=project)  # fmt: skip
    return project


def backtest(project: Path, *args: str, check: bool = True) -> dict[str, Any]:
    done = touchflow(
        "backtest", "--from", DAYS[0], "--to", DAYS[-1], "--now", NOW, "--format", "json",
        *args, cwd=project, check=check,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_with_the_rules_unchanged_it_replays_exactly_what_was_sent(history: Path) -> None:
    sent = {row["key"]: row for row in outbox(history, "sent")}
    report = backtest(history)
    assert report["differences"] == []
    assert report["same"] is True
    # All but Cleo's two tips before she was erased: she came back a new customer.
    assert report["would_send"] == report["sent"] == len(sent) - 2
    # Not a history of nothing: each thing the store learnt played its part.
    assert {k for k in sent if not k.startswith("tip:")} == {
        "reminder:c1:a-1:24h-before",
        "reminder:c1:a-2:24h-before",  # caught up when recorded
        "ack:c2:q-1:0", "late-ok:c2:q-1:2h-after",
        "ack:c4:q-2:0", "late-ok:c4:q-2:2h-after",
        "ack:c1:q-3:0", "late-ok:c1:q-3:2h-after",  # recorded late
    }  # fmt: skip
    tips = sorted(k for k in sent if k.startswith("tip:c2:"))
    assert tips == ["tip:c2:2027-01-04:0", "tip:c2:2027-01-05:0"]  # then suppressed
    assert {r["rule"]: (r["would_send"], r["sent"], r["both"]) for r in report["rules"]} == {
        "reminder": (2, 2, 2), "ack": (3, 3, 3), "late-ok": (3, 3, 3), "tip": (11, 11, 11),
    }  # fmt: skip
    by_day = {d["day"]: (d["would_send"], d["sent"]) for d in report["days"]}
    assert by_day == {"2027-01-04": (4, 4), "2027-01-05": (7, 7), "2027-01-06": (5, 5),
                      "2027-01-07": (3, 3)}  # fmt: skip


def test_a_new_rule_names_exactly_the_keys_it_would_have_sent(
    history: Path, tmp_path: Path
) -> None:
    project = shutil.copytree(history, tmp_path / "project")
    with (project / "rules" / "rules.yaml").open("a", encoding="utf-8") as rules:
        rules.write(FOLLOW_UP)
    report = backtest(project)
    added = {(d["kind"], d["key"], d["would_send_at"]) for d in report["differences"]}
    assert added == {
        ("added", "follow-up:c2:q-1:1d-after", "2027-01-05T10:00:00Z"),
        ("added", "follow-up:c4:q-2:1d-after", "2027-01-06T14:30:00Z"),
        ("added", "follow-up:c1:q-3:1d-after", "2027-01-07T10:00:00Z"),
    }
    rule = next(r for r in report["rules"] if r["rule"] == "follow-up")
    assert (rule["would_send"], rule["sent"], rule["added"]) == (3, 0, 3)
    assert touchflow("backtest", "--from", DAYS[0], "--to", DAYS[-1], "--now", NOW,
                     "--exit-code", cwd=project, check=False).returncode == 1  # fmt: skip


def test_a_rule_removed_shows_what_it_sent_as_dropped(history: Path, tmp_path: Path) -> None:
    project = shutil.copytree(history, tmp_path / "project")
    rules = project / "rules" / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace(TIP, ""), encoding="utf-8")
    report = backtest(project)
    tip = next(r for r in report["rules"] if r["rule"] == "tip")
    assert (tip["where"], tip["would_send"], tip["sent"], tip["dropped"]) == (None, 0, 11, 11)


def test_filters_keep_only_their_rule_customer_and_category(history: Path) -> None:
    assert [r["rule"] for r in backtest(history, "--rule", "tip")["rules"]] == ["tip"]
    one = backtest(history, "--customer", "c2")
    assert one["customers"] == 1 and one["sent"] == one["would_send"] == 4
    marketing = backtest(history, "--category", "marketing")
    assert [r["rule"] for r in marketing["rules"]] == ["tip"]


def test_the_table_sums_up_per_rule_and_day(history: Path) -> None:
    out = touchflow("backtest", "--from", DAYS[0], "--to", DAYS[-1], "--now", NOW,
                    cwd=history).stdout  # fmt: skip
    assert "Backtest of 2027-01-04 00:00 to 2027-01-08 00:00 UTC" in out
    assert "No difference: the rules would have sent exactly what was sent" in out
    assert any(line.split()[:3] == ["2027-01-05", "7", "7"] for line in out.splitlines())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2027-01-09"), "--to: the period must end after it starts"),
        (("--from", "2027-01-04", "--to", "2027-01-09"), "--to: the period must end by now"),
        (("--from", "2027-01-04", "--rule", "nope"), "--rule: no rule 'nope'"),
        (("--from", "2027-01-04", "--customer", "c9"), "--customer: no customer 'c9'"),
        (("--from", "4 January"), "--from: cannot read '4 January'"),
    ],
)
def test_a_request_it_cannot_answer_is_a_clear_error(
    history: Path, args: tuple[str, ...], message: str
) -> None:
    done = touchflow("backtest", *args, "--now", NOW, cwd=history, check=False)
    assert done.returncode == 2
    assert message in done.stderr


def test_a_backtest_from_postgresql_is_the_one_from_sqlite(history: Path, url: str) -> None:
    # The same history copied into PostgreSQL (recorded times and all): the same answer.
    touchflow("store", "copy", str(history / ".touchflow" / "store.sqlite3"), url, cwd=history)
    expected = backtest(history, "--rule", "tip")
    found = touchflow(
        "backtest", "--from", DAYS[0], "--to", DAYS[-1], "--now", NOW, "--format", "json",
        "--rule", "tip", cwd=history, env={**os.environ, "TOUCHFLOW_STORE_URL": url},
    )  # fmt: skip
    assert json.loads(found.stdout) == expected
    assert expected["sent"] == 11 and expected["same"] is True


def test_to_today_ends_the_period_now(history: Path) -> None:
    today = touchflow(
        "backtest", "--from", DAYS[0], "--to", "2027-01-08", "--now", "2027-01-08T06:00:00Z",
        "--format", "json", cwd=history,
    )  # fmt: skip
    assert json.loads(today.stdout)["period"]["to"] == "2027-01-08T06:00:00Z"
