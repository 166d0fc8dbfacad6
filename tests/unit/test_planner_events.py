"""Event-relative rules: offsets, occurrences that move and cancel, conditions, keys."""

from __future__ import annotations

from datetime import date

from support import customer, event, facts, local, planned, project, run

REMINDER = """
- id: reminder
  category: transactional
  trigger:
    event: appointment_booked
    anchor: event.data.starts_at
    occurrence: event.data.appointment_id
    updates: [appointment_rescheduled]
  cancel_on: [appointment_cancelled]
  send: [24 hours before, 2 hours before]
  action: {template: t}
"""


def booked(apt: str, starts: str, at: str = "2026-11-01T09:00:00Z"):
    return event(
        "appointment_booked", at, {"appointment_id": apt, "starts_at": starts}, id=f"b-{apt}"
    )


def test_reminders_24h_and_2h_before_the_appointment(tmp_path):
    config, rules = project(tmp_path, REMINDER)
    tps = run(
        config,
        rules,
        facts(customer(), [booked("a1", "2026-11-10T15:00:00+01:00")]),
        start="2026-11-01T00:00:00Z",
        days=30,
    )
    assert [(local(tp), tp.key) for tp in tps] == [
        ("2026-11-09 15:00", "reminder:c1:a1:24h-before"),
        ("2026-11-10 13:00", "reminder:c1:a1:2h-before"),
    ]


def test_a_reschedule_moves_both_reminders_and_keeps_their_keys(tmp_path):
    config, rules = project(tmp_path, REMINDER)
    events = [
        booked("a1", "2026-11-10T15:00:00+01:00"),
        event(
            "appointment_rescheduled",
            "2026-11-02T10:00:00Z",
            {"appointment_id": "a1", "starts_at": "2026-11-12T11:00:00+01:00"},
        ),
    ]
    tps = run(config, rules, facts(customer(), events), start="2026-11-01T00:00:00Z", days=30)
    assert [(local(tp), tp.key) for tp in tps] == [
        ("2026-11-11 11:00", "reminder:c1:a1:24h-before"),
        ("2026-11-12 09:00", "reminder:c1:a1:2h-before"),
    ]


def test_a_cancellation_cancels_only_that_appointment(tmp_path):
    config, rules = project(tmp_path, REMINDER)
    events = [
        booked("a1", "2026-11-10T15:00:00+01:00"),
        booked("a2", "2026-11-20T15:00:00+01:00"),
        event("appointment_cancelled", "2026-11-03T10:00:00Z", {"appointment_id": "a1"}),
    ]
    tps = run(config, rules, facts(customer(), events), start="2026-11-01T00:00:00Z", days=30)
    assert [(tp.occurrence, tp.status.value, tp.reason and tp.reason.value) for tp in tps] == [
        ("a1", "held", "cancelled"),
        ("a1", "held", "cancelled"),
        ("a2", "planned", None),
        ("a2", "planned", None),
    ]
    assert "appointment_cancelled" in (tps[0].detail or "")


def test_a_booking_after_a_cancellation_revives_the_occurrence(tmp_path):
    config, rules = project(tmp_path, REMINDER)
    events = [
        booked("a1", "2026-11-10T15:00:00+01:00", at="2026-11-01T09:00:00Z"),
        event("appointment_cancelled", "2026-11-02T10:00:00Z", {"appointment_id": "a1"}),
        event(
            "appointment_booked",
            "2026-11-03T10:00:00Z",
            {"appointment_id": "a1", "starts_at": "2026-11-15T15:00:00+01:00"},
            id="again",
        ),
    ]
    tps = planned(
        run(config, rules, facts(customer(), events), start="2026-11-01T00:00:00Z", days=30)
    )
    assert [local(tp) for tp in tps] == ["2026-11-14 15:00", "2026-11-15 13:00"]


def test_an_update_for_an_unknown_occurrence_creates_nothing(tmp_path):
    config, rules = project(tmp_path, REMINDER)
    update = event(
        "appointment_rescheduled",
        "2026-11-02T10:00:00Z",
        {"appointment_id": "zz", "starts_at": "2026-11-12T11:00:00+01:00"},
    )
    assert (
        run(config, rules, facts(customer(), [update]), start="2026-11-01T00:00:00Z", days=30) == []
    )


def test_a_reminder_already_past_is_not_planned_again(tmp_path):
    config, rules = project(tmp_path, REMINDER)
    tps = run(
        config,
        rules,
        facts(customer(), [booked("a1", "2026-11-10T15:00:00+01:00")]),
        start="2026-11-10T00:00:00Z",
        days=30,
    )
    assert [tp.key for tp in tps] == ["reminder:c1:a1:2h-before"]


def test_a_missing_or_naive_anchor_is_held_as_invalid_data_not_dropped(tmp_path):
    config, rules = project(tmp_path, REMINDER)
    events = [
        event(
            "appointment_booked",
            "2026-11-02T09:00:00Z",
            {"appointment_id": "a1", "starts_at": "2026-11-10T15:00:00"},
        ),
        event("appointment_booked", "2026-11-02T09:30:00Z", {"appointment_id": "a2"}),
    ]
    tps = run(config, rules, facts(customer(), events), start="2026-11-01T00:00:00Z", days=30)
    assert {(tp.occurrence, tp.reason and tp.reason.value) for tp in tps} == {
        ("a1", "invalid_data"),
        ("a2", "invalid_data"),
    }
    assert any("no UTC offset" in (tp.detail or "") for tp in tps)


def test_immediately_on_an_event(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: ack
          category: transactional
          trigger: {event: inquiry_received}
          action: {template: t}
        """,
    )
    inquiry = event("inquiry_received", "2026-11-05T23:47:00Z", id="q1")
    tps = run(config, rules, facts(customer(), [inquiry]), start="2026-11-01T00:00:00Z", days=30)
    assert [(tp.due_at.isoformat(), tp.key) for tp in tps] == [
        ("2026-11-05T23:47:00+00:00", "ack:c1:q1:0")
    ]


def test_conditions_see_event_data_and_derived_customer_facts(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: review
          category: transactional
          trigger: {event: survey_answered}
          send: 1 day after
          conditions:
            - event.data.score >= 9
            - not customer.has_open_complaint
          action: {template: t}
        """,
    )
    happy = event("survey_answered", "2026-11-02T10:00:00Z", {"score": 10}, id="s1")
    meh = event("survey_answered", "2026-11-03T10:00:00Z", {"score": 6}, id="s2")
    tps = run(config, rules, facts(customer(), [happy, meh]), start="2026-11-01T00:00:00Z", days=30)
    assert [(tp.occurrence, tp.reason and tp.reason.value) for tp in tps] == [
        ("s1", None),
        ("s2", "condition_false"),
    ]
    assert "event.data.score >= 9" in (tps[1].detail or "")
    assert tps[1].detail.startswith("rules/rules.yaml:")


def test_an_open_complaint_holds_until_it_is_resolved(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: review
          category: transactional
          trigger: {event: survey_answered}
          send: 1 day after
          conditions: ["not customer.has_open_complaint"]
          action: {template: t}
        """,
    )
    events = [
        event("complaint_opened", "2026-11-01T08:00:00Z", {"complaint_id": "k1"}),
        event("survey_answered", "2026-11-02T10:00:00Z", {"score": 10}, id="s1"),
        event("complaint_resolved", "2026-11-05T08:00:00Z", {"complaint_id": "k1"}),
        event("survey_answered", "2026-11-06T10:00:00Z", {"score": 10}, id="s2"),
    ]
    tps = run(config, rules, facts(customer(), events), start="2026-11-01T00:00:00Z", days=30)
    assert [(tp.occurrence, tp.reason and tp.reason.value) for tp in tps] == [
        ("s1", "condition_false"),
        ("s2", None),
    ]


def test_lifecycle_and_tenure_are_available_to_conditions(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: appreciation
          category: transactional
          trigger: {cron: "0 11 15 * *"}
          conditions: ["customer.lifecycle in ['long_time', 'integral']"]
          action: {template: t}
        """,
    )
    veteran = customer(id="old", customer_since=date(2019, 3, 1))
    newbie = customer(id="new", customer_since=date(2026, 10, 1))
    prospect = customer(id="pro")
    tps = run(
        config,
        rules,
        facts(veteran),
        facts(newbie),
        facts(prospect),
        start="2026-11-01T00:00:00Z",
        days=30,
    )
    assert {(tp.customer_id, tp.reason and tp.reason.value) for tp in tps} == {
        ("old", None),
        ("new", "condition_false"),
        ("pro", "condition_false"),
    }
    by_customer = {tp.customer_id: tp.context["customer"] for tp in tps}
    assert (by_customer["old"]["lifecycle"], by_customer["old"]["tenure_years"]) == ("integral", 7)
    assert by_customer["new"]["lifecycle"] == "new"
    assert by_customer["pro"]["lifecycle"] == "prospect"


def test_keys_are_deterministic_and_escape_separators(tmp_path):
    config, rules = project(tmp_path, REMINDER)
    cust = customer(id="shop:42")
    one = run(
        config,
        rules,
        facts(cust, [booked("x:1", "2026-11-10T15:00:00+01:00")]),
        start="2026-11-01T00:00:00Z",
        days=30,
    )
    two = run(
        config,
        rules,
        facts(cust, [booked("x:1", "2026-11-10T15:00:00+01:00")]),
        start="2026-11-01T00:00:00Z",
        days=30,
    )
    assert [tp.key for tp in one] == [tp.key for tp in two]
    assert one[0].key == "reminder:shop%3A42:x%3A1:24h-before"


def test_a_reschedule_does_not_revive_a_cancelled_appointment(tmp_path):
    config, rules = project(tmp_path, REMINDER)
    events = [
        booked("a1", "2026-11-10T15:00:00+01:00"),
        event("appointment_cancelled", "2026-11-02T10:00:00Z", {"appointment_id": "a1"}),
        event(
            "appointment_rescheduled",
            "2026-11-03T10:00:00Z",
            {"appointment_id": "a1", "starts_at": "2026-11-12T11:00:00+01:00"},
        ),
    ]
    tps = run(config, rules, facts(customer(), events), start="2026-11-01T00:00:00Z", days=30)
    assert {tp.reason and tp.reason.value for tp in tps} == {"cancelled"}


REFERRAL = """
- id: referral
  category: transactional
  trigger:
    event: survey_answered
    occurrence: event.year
  send: 7 days after
  conditions: ["event.data.score >= 9"]
  action: {template: t}
"""


def answered(at: str, score: int):
    return event("survey_answered", at, {"score": score})


def test_occurrence_event_year_asks_at_most_once_a_calendar_year(tmp_path):
    config, rules = project(tmp_path, REFERRAL)
    events = [
        answered("2027-03-01T10:00:00Z", 10),
        answered("2027-06-01T10:00:00Z", 9),  # the same year: the same key, moved to June
        answered("2028-02-01T10:00:00Z", 10),
    ]
    tps = run(config, rules, facts(customer(), events), start="2027-01-01T00:00:00Z", days=500)
    assert [(local(tp), tp.key) for tp in tps] == [
        ("2027-06-08 12:00", "referral:c1:2027:7d-after"),
        ("2028-02-08 11:00", "referral:c1:2028:7d-after"),
    ]


def test_event_year_cannot_be_an_anchor(tmp_path):
    import pytest

    from touchflow.errors import ProblemsError

    rule = REFERRAL.replace("occurrence: event.year", "anchor: event.year")
    with pytest.raises(ProblemsError, match=r"anchor must be event.at, event.id or event.data"):
        project(tmp_path, rule)
