"""When a late touchpoint stops being worth sending, as the planner decides it.

A reminder is pointless once the appointment has begun, a birthday card once the
birthday is over; ``expires_after`` says it in the rule itself. Also: a touchpoint
that was already sent counts once towards a cap, as sent, never again as a candidate.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from support import customer, event, facts, planned, project, run, utc, write_project

from touchflow.config.project_config import load_project
from touchflow.models import Category, SentRecord, Status
from touchflow.rules.loader import collect_rules

REMINDER = """
- id: reminder
  category: transactional
  trigger:
    event: appointment_booked
    anchor: event.data.starts_at
    occurrence: event.data.appointment_id
  send: [24 hours before, 2 hours before]
  action: {template: t}
"""

BIRTHDAY = """
- id: birthday
  category: transactional
  trigger: {yearly: customer.birthday}
  at: "09:00"
  action: {template: t}
"""

FOLLOW_UP = """
- id: follow-up
  category: transactional
  trigger: {event: order_placed}
  send: 2 days after
  action: {template: t}
"""


def booked(apt: str, starts: str):
    return event(
        "appointment_booked",
        "2026-11-01T09:00:00Z",
        {"appointment_id": apt, "starts_at": starts},
        id=f"b-{apt}",
    )


def test_an_appointment_reminder_expires_when_the_appointment_starts(tmp_path: Path) -> None:
    config, rules = project(tmp_path, REMINDER)
    tps = run(
        config,
        rules,
        facts(customer(), [booked("a1", "2026-11-10T15:00:00+01:00")]),
        start="2026-11-01T00:00:00Z",
        days=30,
    )
    assert [(tp.key, tp.due_at, tp.expires_at) for tp in tps] == [
        ("reminder:c1:a1:24h-before", utc("2026-11-09T14:00:00Z"), utc("2026-11-10T14:00:00Z")),
        ("reminder:c1:a1:2h-before", utc("2026-11-10T12:00:00Z"), utc("2026-11-10T14:00:00Z")),
    ]


def test_a_reminder_before_a_date_expires_at_the_end_of_that_local_day(tmp_path: Path) -> None:
    config, rules = project(
        tmp_path,
        """
        - id: coupon
          category: transactional
          trigger:
            event: coupon_issued
            anchor: event.data.valid_until
            occurrence: event.data.code
          send: 3 days before
          action: {template: t}
        """,
    )
    coupon = event(
        "coupon_issued", "2026-11-01T09:00:00Z", {"code": "X1", "valid_until": "2026-11-20"}
    )
    tps = run(config, rules, facts(customer(), [coupon]), start="2026-11-01T00:00:00Z", days=30)
    # Berlin is at +01:00 in November: the 20th ends at 23:00 UTC.
    assert [tp.expires_at for tp in tps] == [utc("2026-11-20T23:00:00Z")]


@pytest.mark.parametrize(
    ("zone", "birthday", "due", "expires"),
    [
        pytest.param(
            "America/New_York",
            "1990-11-10",
            "2026-11-10T14:00:00Z",
            "2026-11-11T05:00:00Z",
            id="new-york",
        ),
        pytest.param(
            "Asia/Tokyo", "1990-11-10", "2026-11-10T00:00:00Z", "2026-11-10T15:00:00Z", id="tokyo"
        ),
        # The days New York changes its clocks have 25 and 23 hours; each ends at midnight.
        pytest.param(
            "America/New_York",
            "1990-11-01",
            "2026-11-01T14:00:00Z",
            "2026-11-02T05:00:00Z",
            id="new-york-fall-back",
        ),
        pytest.param(
            "America/New_York",
            "1990-03-08",
            "2026-03-08T13:00:00Z",
            "2026-03-09T04:00:00Z",
            id="new-york-spring-forward",
        ),
    ],
)
def test_a_birthday_card_expires_at_the_end_of_the_customers_local_day(
    tmp_path: Path, zone: str, birthday: str, due: str, expires: str
) -> None:
    config, rules = project(tmp_path, BIRTHDAY)
    cust = customer(timezone=zone, birthday=date.fromisoformat(birthday))
    tps = run(config, rules, facts(cust), start="2026-01-01T00:00:00Z", days=365)
    assert (tps[0].due_at, tps[0].expires_at) == (utc(due), utc(expires))


def test_expires_after_overrides_the_default_expiry(tmp_path: Path) -> None:
    config, rules = project(tmp_path, BIRTHDAY + "  expires_after: 6 hours\n")
    cust = customer(timezone="Asia/Tokyo", birthday=date(1990, 11, 10))
    (tp,) = run(config, rules, facts(cust), start="2026-11-01T00:00:00Z", days=30)
    assert tp.expires_at == tp.due_at + timedelta(hours=6)


def test_expires_after_overrides_a_reminders_appointment_start(tmp_path: Path) -> None:
    config, rules = project(tmp_path, REMINDER + "  expires_after: 30 minutes\n")
    tps = run(
        config,
        rules,
        facts(customer(), [booked("a1", "2026-11-10T15:00:00+01:00")]),
        start="2026-11-01T00:00:00Z",
        days=30,
    )
    assert [tp.expires_at - tp.due_at for tp in tps] == [timedelta(minutes=30)] * 2


def test_an_event_follow_up_expires_a_day_after_it_is_due(tmp_path: Path) -> None:
    config, rules = project(tmp_path, FOLLOW_UP)
    order = event("order_placed", "2026-11-03T16:30:00+01:00")
    (tp,) = run(config, rules, facts(customer(), [order]), start="2026-11-01T00:00:00Z", days=30)
    assert tp.due_at == utc("2026-11-05T15:30:00Z")
    assert tp.expires_at == utc("2026-11-06T15:30:00Z")


def test_an_immediate_acknowledgement_expires_a_day_after_the_event(tmp_path: Path) -> None:
    config, rules = project(
        tmp_path,
        """
        - id: ack
          category: transactional
          trigger: {event: inquiry_received}
          action: {template: t}
        """,
    )
    inquiry = event("inquiry_received", "2026-11-03T16:30:00Z")
    (tp,) = run(config, rules, facts(customer(), [inquiry]), start="2026-11-01T00:00:00Z", days=30)
    assert (tp.due_at, tp.expires_at) == (inquiry.at, inquiry.at + timedelta(days=1))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("soon", "cannot read period 'soon'"),
        ("0 hours", "must be longer than zero"),
        ("2 business days", "cannot read period"),
        ("[6 hours]", "period must be text"),
    ],
)
def test_an_invalid_expires_after_is_reported_at_its_line(
    tmp_path: Path, value: str, words: str
) -> None:
    write_project(
        tmp_path,
        f"""\
        - id: birthday
          category: transactional
          trigger: {{yearly: customer.birthday}}
          expires_after: {value}
          action: {{template: t}}
        """,
    )
    rules, problems = collect_rules(load_project(tmp_path))
    assert rules == []
    assert [(p.path, p.line) for p in problems] == [("rules/rules.yaml", 4)]
    assert problems[0].message.startswith("expires_after: ")
    assert words in problems[0].message


def test_a_send_moved_past_its_expiry_is_not_promised_as_planned(tmp_path: Path) -> None:
    config, rules = project(
        tmp_path,
        """
        - id: coupon-ends
          category: marketing
          trigger:
            event: coupon_issued
            anchor: event.data.valid_until
            occurrence: event.data.code
          send: 1 day before
          policies: {holidays: next_day}
          action: {template: t}
        """,
        "timezone: Europe/Berlin\ncountry: DE\n",
    )
    # Valid until 26 Dec: the reminder on the 25th is a holiday, so is the 26th, the
    # 27th is a Sunday; the send lands on the 28th, after the coupon has ended.
    coupon = event(
        "coupon_issued", "2026-12-01T09:00:00Z", {"code": "X1", "valid_until": "2026-12-26"}
    )
    (tp,) = run(config, rules, facts(customer(), [coupon]), start="2026-12-01T00:00:00Z", days=40)
    assert tp.status is Status.HELD or tp.expires_at > tp.due_at


# --- caps and what was already sent -------------------------------------------------------

PROMO = """
- id: promo
  category: marketing
  trigger: {event: ping}
  action: {template: t}
"""


def capped_config(max_sends: int) -> str:
    return f"""
timezone: Europe/Berlin
country: DE
caps:
  - {{category: marketing, max: {max_sends}, per: 7 days}}
"""


PINGS = [
    event("ping", "2026-11-16T10:00:00+01:00", id="p1"),  # Monday; already sent
    event("ping", "2026-11-18T10:00:00+01:00", id="p2"),  # two days later
    event("ping", "2026-11-24T11:00:00+01:00", id="p3"),  # eight days after p1
]
P1_SENT = SentRecord(
    key="promo:c1:p1:0",
    customer_id="c1",
    category=Category.MARKETING,
    due_at=utc("2026-11-16T09:00:00Z"),
)


def outcome(tmp_path: Path, max_sends: int) -> list[tuple[str, str | None]]:
    config, rules = project(tmp_path, PROMO, capped_config(max_sends))
    tps = run(
        config,
        rules,
        facts(customer(), PINGS, sent=[P1_SENT]),
        start="2026-11-16T00:00:00Z",
        days=14,
    )
    return [(tp.occurrence, tp.reason and tp.reason.value) for tp in tps]


def test_the_key_of_an_already_sent_touchpoint_is_the_one_the_planner_makes(
    tmp_path: Path,
) -> None:
    config, rules = project(tmp_path, PROMO, capped_config(1))
    tps = run(config, rules, facts(customer(), PINGS[:1]), start="2026-11-16T00:00:00Z", days=1)
    assert [tp.key for tp in planned(tps)] == [P1_SENT.key]


def test_a_sent_touchpoint_does_not_cap_itself_and_still_caps_the_next_one(
    tmp_path: Path,
) -> None:
    # Cap 1 per 7 days: p1 went out, so p2 two days later must wait; p3 is clear.
    assert outcome(tmp_path, 1) == [("p1", None), ("p2", "capped"), ("p3", None)]


def test_a_sent_touchpoint_counts_once_not_twice_towards_a_cap(tmp_path: Path) -> None:
    # Cap 2 per 7 days: p1 (sent) and p2 make two; counting p1 twice would cap p2.
    assert outcome(tmp_path, 2) == [("p1", None), ("p2", None), ("p3", None)]


def test_without_the_sent_record_the_first_touchpoint_takes_the_cap(tmp_path: Path) -> None:
    config, rules = project(tmp_path, PROMO, capped_config(1))
    tps = run(config, rules, facts(customer(), PINGS), start="2026-11-16T00:00:00Z", days=14)
    assert [(tp.occurrence, tp.reason and tp.reason.value) for tp in tps] == [
        ("p1", None),
        ("p2", "capped"),
        ("p3", None),
    ]
