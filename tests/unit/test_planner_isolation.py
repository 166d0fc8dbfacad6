"""One customer whose facts make planning fail is held; everyone else is still planned."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from support import customer, event, facts, project, run

from touchflow.models import HoldReason, Status

RULES = """
- id: survey
  category: transactional
  trigger:
    event: purchase_completed
    occurrence: event.data.order_id
  send: 2 business days after
  action: {template: t}
- id: card
  category: transactional
  trigger: {yearly: customer.birthday}
  action: {template: t}
"""
START = "2026-12-01T00:00:00Z"


def bought(order: str, at: str, who: str) -> object:
    return event("purchase_completed", at, {"order_id": order}, id=f"e-{order}", customer_id=who)


def test_an_event_at_the_year_9999_holds_its_customer_and_the_others_are_planned(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    config, rules = project(tmp_path, RULES)
    good = facts(customer(id="c1"), [bought("o1", "2026-12-01T10:00:00Z", "c1")])
    # Validation refuses this at every way in; a store may still hold one (bypassed).
    bad = facts(customer(id="c2"), [bought("o2", "9999-12-31T23:00:00Z", "c2")])
    later = facts(customer(id="c3"), [bought("o3", "2026-12-02T10:00:00Z", "c3")])

    with caplog.at_level(logging.ERROR, logger="touchflow"):
        for _ in range(3):  # the daemon re-plans every few seconds: one log line, not three
            tps = run(config, rules, good, bad, later, start=START, days=7)

    sent = [(tp.customer_id, tp.key) for tp in tps if tp.status is Status.PLANNED]
    assert sent == [("c1", "survey:c1:o1:2bd-after"), ("c3", "survey:c3:o3:2bd-after")]
    held = [tp for tp in tps if tp.customer_id == "c2"]
    assert {(tp.key, tp.reason) for tp in held} == {
        ("survey:c2:invalid_data", HoldReason.INVALID_DATA),
        ("card:c2:invalid_data", HoldReason.INVALID_DATA),
    }
    expected = (
        "customer c2 could not be planned: event e-o2 (purchase_completed) at "
        '"9999-12-31T23:00:00+00:00" lies outside the years touchflow accepts '
        "(1900-01-01 to 2200-12-31)"
    )
    assert {tp.detail for tp in held} == {expected}
    assert [r.getMessage() for r in caplog.records] == [
        f"{expected}; their touchpoints are held (invalid_data) until it is corrected"
    ]


def test_a_fault_no_value_explains_is_named_by_its_error(tmp_path) -> None:
    config, rules = project(tmp_path, RULES)
    # A time zone the planner cannot load (the importer refuses it; a store may not).
    bad = facts(customer(id="c2", timezone="Mars/Olympus"), [])
    good = facts(customer(id="c3"), [bought("o3", "2026-12-02T10:00:00Z", "c3")])
    tps = run(config, rules, bad, good, start=START, days=7)
    assert [tp.key for tp in tps if tp.status is Status.PLANNED] == ["survey:c3:o3:2bd-after"]
    (held,) = [tp for tp in tps if tp.customer_id == "c2"]
    assert held.key == "card:c2:invalid_data"
    assert held.detail is not None
    assert held.detail.startswith("customer c2 could not be planned: ZoneInfoNotFoundError")


def test_a_customer_with_an_unreadable_stored_row_is_held_with_the_stores_words(
    tmp_path,
) -> None:
    config, rules = project(tmp_path, RULES)
    good = facts(customer(id="c1"), [bought("o1", "2026-12-01T10:00:00Z", "c1")])
    unreadable = dataclasses.replace(
        facts(customer(id="c2"), []),
        unreadable="event e-9 is stored unreadable (JSONDecodeError: Expecting value)",
    )
    tps = run(config, rules, good, unreadable, start=START, days=7)
    assert [tp.key for tp in tps if tp.status is Status.PLANNED] == ["survey:c1:o1:2bd-after"]
    held = {tp.detail for tp in tps if tp.customer_id == "c2"}
    assert held == {
        "customer c2 could not be planned: event e-9 is stored unreadable "
        "(JSONDecodeError: Expecting value)"
    }
