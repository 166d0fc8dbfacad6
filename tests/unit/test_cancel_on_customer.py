"""``cancel_on`` with ``match: customer``: any later event of a type cancels, whatever it names."""

from __future__ import annotations

from pathlib import Path

from support import customer, event, facts, local, project, run, write_project

from touchflow.config.project_config import load_project
from touchflow.errors import Problem
from touchflow.rules.loader import collect_rules, load_rules
from touchflow.rules.schema import CancelMatch, CancelOn

COMPLAINTS = """
events:
  complaint_opened:   {complaint_id: string, topic: string}
  complaint_resolved: {complaint_id: string, topic: string}
"""

# docs/rules.md §4.1, as written there.
FOLLOW_UP = """
- id: complaint-follow-up
  category: transactional
  trigger:
    event: complaint_resolved
    occurrence: event.data.complaint_id
  cancel_on:
    - {event: complaint_opened, match: customer}   # any new or reopened complaint
  send: 3 days after
  at: "10:00"
  action:
    template: complaint_follow_up
"""


def opened(complaint: str, at: str):
    return event("complaint_opened", at, {"complaint_id": complaint}, id=f"open-{complaint}-{at}")


def resolved(complaint: str, at: str):
    return event("complaint_resolved", at, {"complaint_id": complaint}, id=f"done-{complaint}")


def outcome(tps):
    return [(tp.occurrence, local(tp), tp.reason and tp.reason.value, tp.detail) for tp in tps]


def test_a_new_complaint_cancels_the_follow_up_of_an_older_one(tmp_path):
    config, rules = project(tmp_path, FOLLOW_UP, COMPLAINTS)
    events = [
        opened("cp-1", "2026-11-01T09:00:00Z"),
        resolved("cp-1", "2026-11-02T09:00:00Z"),
        opened("cp-2", "2026-11-03T08:00:00Z"),  # another complaint, before the follow-up
    ]
    tps = run(config, rules, facts(customer(), events), start="2026-11-01T00:00:00Z", days=14)
    assert outcome(tps) == [
        (
            "cp-1",
            "2026-11-05 10:00",
            "cancelled",
            "complaint_opened event open-cp-2-2026-11-03T08:00:00Z at 2026-11-03T08:00:00+00:00",
        )
    ]


def test_a_complaint_opened_before_the_resolution_does_not_cancel_its_follow_up(tmp_path):
    config, rules = project(tmp_path, FOLLOW_UP, COMPLAINTS)
    events = [
        opened("cp-1", "2026-11-01T09:00:00Z"),
        opened("cp-2", "2026-11-01T12:00:00Z"),
        resolved("cp-2", "2026-11-02T09:00:00Z"),  # cp-2 done; cp-1 was opened earlier
    ]
    tps = run(config, rules, facts(customer(), events), start="2026-11-01T00:00:00Z", days=14)
    assert outcome(tps) == [("cp-2", "2026-11-05 10:00", None, None)]


def test_only_follow_ups_resolved_before_the_new_complaint_are_cancelled(tmp_path):
    config, rules = project(tmp_path, FOLLOW_UP, COMPLAINTS)
    events = [
        resolved("cp-1", "2026-11-02T09:00:00Z"),
        opened("cp-2", "2026-11-02T10:00:00Z"),
        resolved("cp-2", "2026-11-03T09:00:00Z"),
    ]
    tps = run(config, rules, facts(customer(), events), start="2026-11-01T00:00:00Z", days=14)
    assert [(occ, reason) for occ, _, reason, _ in outcome(tps)] == [
        ("cp-1", "cancelled"),
        ("cp-2", None),
    ]


def test_the_same_occurrence_form_still_ignores_a_different_complaint(tmp_path):
    same_only = FOLLOW_UP.replace(
        "- {event: complaint_opened, match: customer}", "- complaint_opened"
    )
    config, rules = project(tmp_path, same_only, COMPLAINTS)
    events = [resolved("cp-1", "2026-11-02T09:00:00Z"), opened("cp-2", "2026-11-03T08:00:00Z")]
    tps = run(config, rules, facts(customer(), events), start="2026-11-01T00:00:00Z", days=14)
    assert [(occ, reason) for occ, _, reason, _ in outcome(tps)] == [("cp-1", None)]
    assert rules[0].cancel_on == (CancelOn(event="complaint_opened"),)


def test_the_sample_projects_follow_up_stops_for_a_new_complaint():
    config = load_project(Path(__file__).parents[2])  # the repository is the sample project
    rules = [rule for rule in load_rules(config) if rule.id == "complaint-follow-up"]
    events = [resolved("cp-1", "2026-11-02T09:00:00Z"), opened("cp-2", "2026-11-03T08:00:00Z")]
    tps = run(config, rules, facts(customer(), events), start="2026-11-01T00:00:00Z", days=14)
    assert [(occ, reason) for occ, _, reason, _ in outcome(tps)] == [("cp-1", "cancelled")]


# docs/rules.md §5.4, as written there.
RECALL = """
- id: dental-recall
  category: transactional
  trigger:
    event: check_up_done                 # each visit is an occurrence of its own
  cancel_on:
    - {event: check_up_done, match: customer}     # a later visit replaces the recall
    - {event: check_up_booked, match: customer}   # booked already: no reminder
  send: 6 months after
  at: "10:00"
  action:
    template: dental_recall
"""


def test_a_later_event_of_the_triggers_own_type_replaces_the_earlier_occurrence(tmp_path):
    config, rules = project(tmp_path, RECALL)
    visits = [
        event("check_up_done", "2026-08-31T16:40:00+02:00", id="visit-1"),
        event("check_up_done", "2026-09-02T08:00:00+02:00", id="visit-2"),  # a follow-up visit
    ]
    tps = run(config, rules, facts(customer(), visits), start="2027-02-20T00:00:00Z", days=14)
    assert [(tp.occurrence, local(tp), tp.reason and tp.reason.value) for tp in tps] == [
        ("visit-1", "2027-02-28 10:00", "cancelled"),
        ("visit-2", "2027-03-02 10:00", None),
    ]


def test_a_booking_cancels_the_recall_and_the_next_visit_starts_a_new_one(tmp_path):
    config, rules = project(tmp_path, RECALL)
    events = [
        event("check_up_done", "2026-03-10T09:00:00+01:00", id="visit-1"),
        event("check_up_booked", "2026-06-01T12:00:00+02:00", id="booking"),
        event("check_up_done", "2026-06-20T09:00:00+02:00", id="visit-2"),
    ]
    tps = run(config, rules, facts(customer(), events), start="2026-09-01T00:00:00Z", days=150)
    assert [(tp.occurrence, local(tp), tp.reason and tp.reason.value) for tp in tps] == [
        ("visit-1", "2026-09-10 10:00", "cancelled"),
        ("visit-2", "2026-12-20 10:00", None),
    ]
    assert rules[0].cancel_on[1] == CancelOn(event="check_up_booked", match=CancelMatch.CUSTOMER)


# --- validate ----------------------------------------------------------------------------


def problems(root: Path, cancel_on: str, trigger: str = "{event: complaint_resolved}") -> list[str]:
    """``line: message`` of each problem of a follow-up rule with this ``cancel_on:``."""
    rules = f"""\
- id: follow-up
  category: transactional
  trigger: {trigger}
  cancel_on: {cancel_on}
  action: {{template: t}}
"""
    write_project(root, rules, COMPLAINTS)
    _, found = collect_rules(load_project(root))
    return [_short(p) for p in found]


def _short(problem: Problem) -> str:
    assert problem.path == "rules/rules.yaml"
    return f"{problem.line}: {problem.message}"


def test_the_customer_form_needs_no_occurrence_field(tmp_path):
    assert problems(tmp_path, "[{event: complaint_opened, match: customer}]") == []


def test_the_occurrence_form_without_an_occurrence_field_points_at_the_customer_form(tmp_path):
    assert problems(tmp_path, "[complaint_opened]") == [
        "4: updates and cancel_on match events by the occurrence key: set trigger.occurrence "
        "to event.data.<field> (e.g. event.data.appointment_id), or cancel every occurrence "
        "of the customer: {event: complaint_opened, match: customer}"
    ]


def test_a_misspelt_match_suggests_the_closest_value(tmp_path):
    cancel_on = "\n    - event: complaint_opened\n      match: custmer"
    assert problems(tmp_path, cancel_on) == [
        "6: cancel_on match must be one of occurrence, customer, not 'custmer' — did you mean "
        '"customer"? (occurrence: the event names the same occurrence; customer: any such '
        "event of the customer)"
    ]


def test_a_misspelt_key_in_an_entry_suggests_the_closest_key(tmp_path):
    assert problems(tmp_path, "[{evnt: complaint_opened, match: customer}]") == [
        "4: unknown key 'evnt' in a cancel_on entry — did you mean \"event\"? "
        "(allowed: event, match)"
    ]


def test_an_entry_that_is_neither_a_type_nor_a_mapping_says_what_would_be_right(tmp_path):
    assert problems(tmp_path, "[[complaint_opened]]") == [
        "4: cancel_on must be an event type, a list of them, or {event: <type>, match: "
        "customer}, not ['complaint_opened']"
    ]


def test_an_undeclared_type_in_the_customer_form_suggests_a_declared_one(tmp_path):
    assert problems(tmp_path, "[{event: complaint_open, match: customer}]") == [
        "4: event type 'complaint_open' is not declared under events: in touchflow.yaml"
        ' — did you mean "complaint_opened"?'
    ]


def test_a_type_listed_twice_is_a_problem(tmp_path):
    cancel_on = "\n    - complaint_opened\n    - {event: complaint_opened, match: customer}"
    trigger = "{event: complaint_resolved, occurrence: event.data.complaint_id}"
    assert problems(tmp_path, cancel_on, trigger) == [
        "6: cancel_on lists 'complaint_opened' twice; list each event type once"
    ]


def test_the_triggers_own_type_by_occurrence_would_cancel_itself(tmp_path):
    trigger = "{event: complaint_resolved, occurrence: event.data.complaint_id}"
    assert problems(tmp_path, "[complaint_resolved]", trigger) == [
        "4: cancel_on 'complaint_resolved' is the trigger's own event type: each would cancel "
        "the occurrence it starts; to let a later complaint_resolved replace the earlier "
        "ones, write {event: complaint_resolved, match: customer}"
    ]


def test_a_type_cannot_both_update_and_cancel(tmp_path):
    trigger = (
        "{event: complaint_resolved, occurrence: event.data.complaint_id, "
        "updates: [complaint_opened]}"
    )
    assert problems(tmp_path, "[{event: complaint_opened, match: customer}]", trigger) == [
        "4: 'complaint_opened' is under both updates and cancel_on: an event type either "
        "moves an occurrence or cancels it"
    ]
