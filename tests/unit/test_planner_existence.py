"""What expired before its customer existed is not planned: no daemon could have sent it.

A customer imported today has no birthday card of last week, neither sent nor
"missed". What came due before the customer existed but is still worth sending
(an inquiry from an hour before the customer was stored) goes out, late.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from support import customer, event, facts, project, utc

from touchflow.models import PlannedTouchpoint, Window
from touchflow.plan.planner import plan

BIRTHDAY = """
- id: birthday
  category: transactional
  trigger: {yearly: customer.birthday}
  at: "09:00"
  action: {template: t}
"""

ACK = """
- id: ack
  category: transactional
  trigger: {event: inquiry_received}
  action: {template: t}
"""

# Ana (Berlin) was born on 1 December: her card is due 2026-12-01 08:00 UTC and
# expires at the end of her day, 2026-12-01 23:00 UTC.
ANA_BIRTHDAY = date(1990, 12, 1)
CARD_EXPIRES = utc("2026-12-01T23:00:00Z")
NOW = utc("2026-12-06T09:00:00Z")
# The daemon's first plan looks back daemon.catch_up (7 days) for late events.
CATCH_UP = Window(start=NOW - timedelta(days=7), end=NOW + timedelta(days=2))


def keys(tps: list[PlannedTouchpoint]) -> list[str]:
    return [tp.key for tp in tps]


def birthday_plan(tmp_path, created_at: datetime | None, now: datetime = NOW) -> list[str]:
    config, rules = project(tmp_path, BIRTHDAY)
    ana = customer(birthday=ANA_BIRTHDAY, created_at=created_at)
    return keys(plan(rules, [facts(ana)], window=CATCH_UP, config=config, now=now))


def test_a_birthday_that_ended_before_the_customer_was_stored_is_not_planned(tmp_path):
    assert birthday_plan(tmp_path, created_at=NOW - timedelta(seconds=1)) == []


def test_one_that_expires_the_instant_the_customer_is_stored_is_not_planned_either(tmp_path):
    assert birthday_plan(tmp_path, created_at=CARD_EXPIRES) == []


def test_a_customer_stored_before_it_expired_still_has_it_and_a_missed_one_shows(tmp_path):
    # Stored during the birthday (or long before): the card was sendable; the outbox
    # marks it expired if no daemon ran until now (real downtime).
    for stored in (CARD_EXPIRES - timedelta(seconds=1), utc("2025-01-01T00:00:00Z")):
        assert birthday_plan(tmp_path, created_at=stored) == ["birthday:c1:2026:0"]


def test_a_customer_stored_before_touchflow_recorded_when_keeps_everything(tmp_path):
    assert birthday_plan(tmp_path, created_at=None) == ["birthday:c1:2026:0"]


def test_a_rehearsal_before_the_customer_was_stored_counts_them_as_existing_from_now(tmp_path):
    # `touchflow run --now 2026-12-01T10:00Z` on a store filled today: at that "now"
    # the card is still worth sending, so the rehearsal plans it.
    rehearsal = utc("2026-12-01T10:00:00Z")
    assert birthday_plan(tmp_path, created_at=NOW, now=rehearsal) == ["birthday:c1:2026:0"]


def test_what_came_due_before_the_customer_was_stored_but_lives_on_is_sent_late(tmp_path):
    config, rules = project(tmp_path, ACK)
    # The inquiry came in an hour before the customer record (a web form, then the CRM
    # export): the answer was due then and lives a day, so it goes out now.
    inquiry = event("inquiry_received", "2026-12-06T08:00:00Z", id="q1")
    old = event("inquiry_received", "2026-12-03T08:00:00Z", id="q0")  # expired on the 4th
    ana = customer(created_at=NOW)
    tps = plan(rules, [facts(ana, [old, inquiry])], window=CATCH_UP, config=config, now=NOW)
    assert keys(tps) == ["ack:c1:q1:0"]
    assert tps[0].due_at < NOW < tps[0].expires_at


def test_what_was_left_out_takes_no_place_under_a_cap(tmp_path):
    rules_yaml = """
- id: early
  category: marketing
  priority: 9
  trigger: {event: promo}
  action: {template: t}
- id: late
  category: marketing
  priority: 1
  trigger: {event: promo}
  send: 4 days after
  action: {template: t}
"""
    config, rules = project(
        tmp_path, rules_yaml, "caps:\n  - {category: marketing, max: 1, per: 7 days}\n"
    )
    promo = event("promo", "2026-12-01T10:00:00Z", id="p1")
    ana = customer(created_at=utc("2026-12-04T12:00:00Z"))  # after "early" expired
    tps = plan(rules, [facts(ana, [promo])], window=CATCH_UP, config=config, now=NOW)
    assert [(tp.key, tp.reason) for tp in tps] == [("late:c1:p1:4d-after", None)]
