"""`touchflow why`: the story of one customer names what stopped each touchpoint, with the
values it read, and the rule's file and line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from support import customer, event, facts, project, utc

from touchflow.models import (
    Category,
    CustomerFacts,
    OutboxRow,
    OutboxState,
    SentRecord,
    Suppression,
    SuppressionScope,
    Window,
)
from touchflow.plan.trace import StoryInputs, tell
from touchflow.plan.trace_json import story_json
from touchflow.plan.trace_model import CustomerStory, RuleStory, TouchpointStory

CONFIG = """
timezone: Europe/Berlin
country: DE
policies:
  marketing: {send_window: none, holidays: send}
caps:
  - {category: marketing, max: 1, per: 1 day}
"""
NOW = utc("2026-11-16T00:00:00Z")


def rule(rule_id: str, event_type: str, priority: int = 0, extra: str = "") -> str:
    return f"""
- id: {rule_id}
  category: marketing
  priority: {priority}
  trigger: {{event: {event_type}}}
  send: 1 hour after
  action: {{template: t}}
{extra}"""


def story(
    tmp_path: Path, rules_yaml: str, customer_facts: CustomerFacts, *,
    suppressions: Sequence[Suppression] = (), outbox: Sequence[OutboxRow] = (),
) -> CustomerStory:  # fmt: skip
    config, rules = project(tmp_path, rules_yaml, CONFIG)
    inputs = StoryInputs(facts=customer_facts, suppressions=suppressions, outbox=outbox)
    return tell(
        rules, inputs, config=config, now=NOW,
        past=Window(start=NOW - timedelta(days=7), end=NOW), future=Window.of_days(NOW, 7),
    )  # fmt: skip


def the_rule(told: CustomerStory, rule_id: str) -> RuleStory:
    (found,) = [r for r in told.rules if r.rule_id == rule_id]
    return found


def the_touchpoint(told: CustomerStory, rule_id: str) -> TouchpointStory:
    (tp,) = the_rule(told, rule_id).touchpoints
    return tp


def test_a_held_touchpoint_names_the_failed_condition_with_the_values_it_read(tmp_path):
    rules = rule("gold-only", "ping", extra="  conditions:\n    - customer.tier == 'gold'\n")
    silver = customer(attributes={"tier": "silver"})
    told = story(tmp_path, rules, facts(silver, [event("ping", "2026-11-17T10:00:00Z")]))
    tp = the_touchpoint(told, "gold-only")
    assert tp.status == "held"
    assert tp.stopped_by == (
        "customer.tier == 'gold': false (customer.tier = 'silver') (rules/rules.yaml:9)"
    )
    (condition,) = [c for c in tp.checks if c.name == "condition"]
    assert condition.passed is False
    assert condition.values == {
        "condition": "customer.tier == 'gold'",
        "read": {"customer.tier": "silver"},
    }


def test_a_suppressed_touchpoint_names_the_suppression_since_when_and_why(tmp_path):
    ping = event("ping", "2026-11-17T10:00:00Z")
    told = story(
        tmp_path, rule("promo", "ping"),
        facts(customer(), [ping], suppressed=[SuppressionScope.MARKETING]),
        suppressions=[Suppression(email="ana@example.com", scope=SuppressionScope.MARKETING,
                                  reason="asked by phone", created_at=utc("2026-10-01T12:00:00Z"))],
    )  # fmt: skip
    tp = the_touchpoint(told, "promo")
    assert tp.stopped_by == (
        "ana@example.com is suppressed (marketing since 2026-10-01 12:00 UTC): asked by phone "
        "(rules/rules.yaml:2)"
    )


def test_a_capped_touchpoint_names_what_filled_the_cap_and_when(tmp_path):
    rules = rule("big", "ping", priority=50) + rule("small", "pong", priority=10)
    events = [event("ping", "2026-11-17T10:00:00Z"), event("pong", "2026-11-17T15:00:00Z")]
    told = story(tmp_path, rules, facts(customer(), events))
    big = the_touchpoint(told, "big")
    assert big.status == "planned"
    small = the_touchpoint(told, "small")
    assert small.reason is not None and small.reason.value == "capped"
    assert small.stopped_by == (
        "the cap of 1 marketing per 1 day was full from 2026-11-17T11:00:00Z to "
        f"2026-11-18T11:00:00Z: {big.key} (planned, due 2026-11-17T11:00:00Z) (rules/rules.yaml:9)"
    )
    (cap,) = [c for c in small.checks if c.name == "cap"]
    assert [f["key"] for f in cap.values["filled_by"]] == [big.key]


def test_a_send_already_made_fills_the_cap_as_sent(tmp_path):
    sent = SentRecord(key="other:c1:x:0", customer_id="c1", category=Category.MARKETING,
                      due_at=utc("2026-11-17T08:00:00Z"))  # fmt: skip
    customer_facts = facts(customer(), [event("ping", "2026-11-17T10:00:00Z")], sent=[sent])
    told = story(tmp_path, rule("promo", "ping"), customer_facts)
    (cap,) = [c for c in the_touchpoint(told, "promo").checks if c.name == "cap"]
    assert cap.values["filled_by"] == [
        {"key": "other:c1:x:0", "as": "sent", "due_at": "2026-11-17T08:00:00Z"}
    ]


def test_a_past_sent_touchpoint_shows_its_outbox_row_and_history(tmp_path):
    ping = event("ping", "2026-11-14T10:00:00Z")
    key = "promo:c1:ping-2026-11-14T10%3A00%3A00Z:1h-after"
    row = OutboxRow(
        key=key, rule_id="promo", customer_id="c1", category=Category.MARKETING,
        counts_for_caps=True, state=OutboxState.SENT, due_at=utc("2026-11-14T11:00:00Z"),
        expires_at=utc("2026-11-15T11:00:00Z"), next_attempt_at=utc("2026-11-14T11:00:00Z"),
        attempts=2, reason=None, last_error="451 4.7.1 try again later",
        message_id="<abc@example.com>", sent_at=utc("2026-11-14T11:05:00Z"),
    )  # fmt: skip
    told = story(tmp_path, rule("promo", "ping"), facts(customer(), [ping]), outbox=[row])
    tp = the_touchpoint(told, "promo")
    assert (tp.period, tp.key, tp.outbox) == ("past", key, row)
    assert tp.stopped_by is None
    assert tp.checks[-1].text == (
        "sent: accepted by the mail server (or written to the Maildir); 2 attempts; "
        "sent at 2026-11-14 12:05 CET; Message-ID <abc@example.com>; "
        "last reply: 451 4.7.1 try again later"
    )


def test_a_past_touchpoint_that_failed_is_stopped_by_the_servers_reply(tmp_path):
    ping = event("ping", "2026-11-14T10:00:00Z")
    key = "promo:c1:ping-2026-11-14T10%3A00%3A00Z:1h-after"
    row = OutboxRow(
        key=key, rule_id="promo", customer_id="c1", category=Category.MARKETING,
        counts_for_caps=True, state=OutboxState.FAILED, due_at=utc("2026-11-14T11:00:00Z"),
        expires_at=utc("2026-11-15T11:00:00Z"), next_attempt_at=utc("2026-11-14T11:00:00Z"),
        attempts=1, reason="bad_mailbox", last_error="550 5.1.1 no such user",
    )  # fmt: skip
    told = story(tmp_path, rule("promo", "ping"), facts(customer(), [ping]), outbox=[row])
    stopped = the_touchpoint(told, "promo").stopped_by
    assert stopped is not None and "550 5.1.1 no such user" in stopped


def test_a_rule_without_a_touchpoint_says_why_with_its_file_and_line(tmp_path):
    rules = (
        rule("promo", "ping")
        + """
- id: birthday
  category: marketing
  trigger: {yearly: customer.birthday}
  action: {template: t}
"""
    )
    told = story(tmp_path, rules, facts(customer(), []))
    assert the_rule(told, "promo").none == "no ping event for this customer (rules/rules.yaml:2)"
    assert the_rule(told, "birthday").none == "customer.birthday is missing (rules/rules.yaml:9)"


def test_a_cancelled_touchpoint_names_the_cancelling_event(tmp_path):
    rules = rule("promo", "ping", extra="  cancel_on: [{event: stop, match: customer}]\n")
    events = [event("ping", "2026-11-17T10:00:00Z", id="p1"),
              event("stop", "2026-11-17T10:30:00Z", {}, id="s1")]  # fmt: skip
    told = story(tmp_path, rules, facts(customer(), events))
    assert the_touchpoint(told, "promo").stopped_by == (
        "cancelled by stop event s1 at 2026-11-17T10:30:00Z (cancel_on: stop (customer)) "
        "(rules/rules.yaml:2)"
    )


def test_the_json_shape_is_pinned(tmp_path):
    told = story(tmp_path, rule("promo", "ping"),
                 facts(customer(), [event("ping", "2026-11-17T10:00:00Z")]))  # fmt: skip
    document = story_json(told)
    assert list(document) == ["customer", "now", "past", "future", "rules"]
    assert list(document["customer"]) == [
        "id", "email", "phone", "timezone", "country", "consent_marketing", "consent_sms",
        "created_at",
    ]  # fmt: skip
    (promo,) = document["rules"]
    assert list(promo) == [
        "rule", "category", "channel", "channels", "trigger", "where", "found", "none",
        "touchpoints",
    ]  # fmt: skip
    (tp,) = promo["touchpoints"]
    assert list(tp) == [
        "key", "rule", "occurrence", "period", "status", "channel", "reason", "detail",
        "stopped_by",
        "send_at", "local_send_at", "timezone", "expires_at", "checks", "outbox",
    ]  # fmt: skip
    assert list(tp["checks"][0]) == ["stage", "check", "passed", "text", "where", "values",
                                     "reason"]  # fmt: skip
    assert [c["stage"] for c in tp["checks"]] == [
        "trigger", "time", "time", "time", "time", "gate", "gate", "gate", "cap", "outbox"
    ]  # fmt: skip


def test_the_time_says_where_the_offset_lands_and_what_moved_it(tmp_path):
    rules = rule(
        "promo", "ping", extra="  policies:\n    send_window: {from: '09:00', to: '20:00'}\n"
    )
    told = story(tmp_path, rules, facts(customer(), [event("ping", "2026-11-17T22:00:00Z")]))
    times = [c for c in the_touchpoint(told, "promo").checks if c.stage.value == "time"]
    assert [(c.name, c.text) for c in times] == [
        ("anchor", "anchor 2026-11-17 23:00 CET (Europe/Berlin)"),
        ("offset", "1 hour after → 2026-11-18 00:00 CET"),
        ("moved_by_window", "moved to the next opening of the send window"),
        ("due", "due 2026-11-18 09:00 CET (2026-11-18T08:00:00Z)"),
        ("expires", "expires 2026-11-19 09:00 CET"),
    ]


def test_a_past_touchpoint_still_retrying_says_it_was_not_sent_yet_and_why(tmp_path):
    ping = event("ping", "2026-11-14T10:00:00Z")
    key = "promo:c1:ping-2026-11-14T10%3A00%3A00Z:1h-after"
    row = OutboxRow(
        key=key, rule_id="promo", customer_id="c1", category=Category.MARKETING,
        counts_for_caps=True, state=OutboxState.RETRY, due_at=utc("2026-11-14T11:00:00Z"),
        expires_at=utc("2026-11-15T11:00:00Z"), next_attempt_at=utc("2026-11-14T11:10:00Z"),
        attempts=3, reason="temporary_failure", last_error="421 4.7.0 too many connections",
    )  # fmt: skip
    told = story(tmp_path, rule("promo", "ping"), facts(customer(), [ping]), outbox=[row])
    assert the_touchpoint(told, "promo").stopped_by == (
        "not sent yet: retry: a send failed for now; it is tried again; 3 attempts; "
        "reason temporary_failure; last reply: 421 4.7.0 too many connections"
    )


def test_a_dst_gap_and_a_dst_fold_are_named(tmp_path):
    rules = """
- id: spring
  category: transactional
  trigger: {date: "03-29"}
  at: "02:30"
  action: {template: t}
- id: autumn
  category: transactional
  trigger: {date: "10-25"}
  at: "02:30"
  action: {template: t}
"""
    config, loaded = project(tmp_path, rules, CONFIG)
    now = utc("2026-03-01T00:00:00Z")
    told = tell(
        loaded, StoryInputs(facts=facts(customer(), []), suppressions=(), outbox=()),
        config=config, now=now, past=Window(start=now, end=now), future=Window.of_days(now, 240),
    )  # fmt: skip
    spring = {c.name: c.text for c in the_touchpoint(told, "spring").checks}
    assert spring["dst_gap"].startswith("the local time does not exist")
    assert spring["due"] == "due 2026-03-29 03:00 CEST (2026-03-29T01:00:00Z)"
    autumn = {c.name: c.text for c in the_touchpoint(told, "autumn").checks}
    assert autumn["dst_fold"].startswith("the local time happens twice")
    assert autumn["due"] == "due 2026-10-25 02:30 CEST (2026-10-25T00:30:00Z)"


# --- channels ---------------------------------------------------------------------

SMS_CONFIG = CONFIG + "delivery:\n  sms: {provider: folder}\n"
NUMBER = "+4915112345678"


def fallback_story(tmp_path: Path, who: CustomerFacts, **kw: object) -> TouchpointStory:
    yaml = """
- id: remind
  category: transactional
  trigger: {event: booked}
  action: {channels: [sms, email], template: t}
"""
    config, rules = project(tmp_path, yaml, SMS_CONFIG)
    inputs = StoryInputs(facts=who, suppressions=kw.get("suppressions", ()), outbox=())  # type: ignore[arg-type]
    told = tell(
        rules, inputs, config=config, now=NOW,
        past=Window(start=NOW - timedelta(days=7), end=NOW), future=Window.of_days(NOW, 7),
    )  # fmt: skip
    return the_touchpoint(told, "remind")


def test_why_tells_which_channel_a_fallback_takes_and_why_the_first_was_passed(tmp_path):
    who = facts(customer(phone=NUMBER), [event("booked", "2026-11-17T10:00:00Z")])
    tp = fallback_story(tmp_path, who)
    gates = [(c.name, c.passed) for c in tp.checks if c.stage.value == "gate"]
    assert gates == [
        ("sms address", True),
        ("sms suppression", True),
        ("sms consent", False),
        ("email address", True),
        ("email suppression", True),
        ("channel", True),
    ]
    assert tp.status == "planned" and tp.stopped_by is None
    assert [c.text for c in tp.checks if c.name == "channel"] == [
        "goes by email: the first of sms, email it can"
    ]


def test_why_names_the_first_channel_s_gate_when_none_can_be_received(tmp_path):
    import dataclasses

    who = dataclasses.replace(
        facts(customer(email=None, phone=NUMBER, consent_sms=True),
              [event("booked", "2026-11-17T10:00:00Z")]),
        suppressed_phone=frozenset({SuppressionScope.ALL}),
    )  # fmt: skip
    stop = Suppression(email=NUMBER, scope=SuppressionScope.ALL, reason="STOP")
    tp = fallback_story(tmp_path, who, suppressions=[stop])
    assert tp.status == "held"
    assert tp.stopped_by == f"{NUMBER} is suppressed (all): STOP (rules/rules.yaml:2)"
    gates = [(c.name, c.passed) for c in tp.checks if c.stage.value == "gate"]
    assert gates == [
        ("sms address", True),
        ("sms suppression", False),
        ("sms consent", True),
        ("email address", False),
        ("email suppression", True),
    ]
