"""Policies: send windows, holidays, frequency caps, consent and suppressions."""

from __future__ import annotations

from support import customer, event, facts, local, planned, project, run, utc

from touchflow.models import Category, SentRecord, SuppressionScope

CONFIG = """
timezone: Europe/Berlin
country: DE
policies:
  marketing:
    send_window: {from: "09:00", to: "20:00", days: [mon, tue, wed, thu, fri, sat]}
    holidays: next_day
caps:
  - {category: marketing, max: 2, per: 7 days}
"""


def marketing_on(event_type: str, rule_id: str, priority: int = 0, extra: str = "") -> str:
    return f"""
- id: {rule_id}
  category: marketing
  priority: {priority}
  trigger: {{event: {event_type}}}
  action: {{template: t}}
{extra}"""


def test_a_marketing_send_at_night_moves_to_the_next_window_opening(tmp_path):
    config, rules = project(tmp_path, marketing_on("ping", "promo"), CONFIG)
    night = event("ping", "2026-11-17T23:30:00+01:00")  # Tuesday 23:30 Berlin
    tps = run(config, rules, facts(customer(), [night]), start="2026-11-17T00:00:00Z", days=7)
    assert [local(tp) for tp in tps] == ["2026-11-18 09:00"]
    assert [a.value for a in tps[0].adjustments] == ["moved_by_window"]
    assert tps[0].reason is None


def test_sunday_is_outside_the_window_and_moves_to_monday(tmp_path):
    config, rules = project(tmp_path, marketing_on("ping", "promo"), CONFIG)
    sunday = event("ping", "2026-11-22T12:00:00+01:00")
    tps = run(config, rules, facts(customer(), [sunday]), start="2026-11-20T00:00:00Z", days=7)
    assert [local(tp) for tp in tps] == ["2026-11-23 09:00"]


def test_the_window_is_in_the_customers_own_time_zone(tmp_path):
    config, rules = project(tmp_path, marketing_on("ping", "promo"), CONFIG)
    ping = event("ping", "2026-11-18T10:00:00Z")  # 11:00 Berlin, 05:00 New York
    tps = run(
        config,
        rules,
        facts(customer(timezone="America/New_York"), [ping]),
        start="2026-11-17T00:00:00Z",
        days=7,
    )
    assert [local(tp) for tp in tps] == ["2026-11-18 09:00"]


def test_transactional_sends_ignore_the_marketing_window(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: ack
          category: transactional
          trigger: {event: ping}
          action: {template: t}
        """,
        CONFIG,
    )
    night = event("ping", "2026-11-17T23:30:00+01:00")
    tps = run(config, rules, facts(customer(), [night]), start="2026-11-17T00:00:00Z", days=7)
    assert [local(tp) for tp in tps] == ["2026-11-17 23:30"]


def test_a_holiday_moves_marketing_to_the_next_day_in_the_window(tmp_path):
    config, rules = project(tmp_path, marketing_on("ping", "promo"), CONFIG)
    christmas = event("ping", "2026-12-25T10:00:00+01:00")  # DE: 25 and 26 Dec are holidays
    tps = run(config, rules, facts(customer(), [christmas]), start="2026-12-20T00:00:00Z", days=14)
    assert [local(tp) for tp in tps] == ["2026-12-28 09:00"]  # 27th is a Sunday
    assert {a.value for a in tps[0].adjustments} == {"moved_by_holiday", "moved_by_window"}


def test_holidays_skip_holds_the_send_with_the_holiday_name(tmp_path):
    rule = marketing_on("ping", "promo", extra="  policies: {holidays: skip}\n")
    config, rules = project(tmp_path, rule, CONFIG)
    christmas = event("ping", "2026-12-25T10:00:00+01:00")
    tps = run(config, rules, facts(customer(), [christmas]), start="2026-12-20T00:00:00Z", days=14)
    assert [(tp.reason and tp.reason.value, tp.detail) for tp in tps] == [
        ("skipped_holiday", "Christmas Day")
    ]


def test_a_cap_holds_the_lower_priority_send_even_when_it_is_earlier(tmp_path):
    rules_yaml = marketing_on("a", "low", 1) + marketing_on("b", "high", 9)
    config, rules = project(tmp_path, rules_yaml, CONFIG)
    events = [
        event("a", "2026-11-16T10:00:00+01:00", id="a1"),
        event("a", "2026-11-17T10:00:00+01:00", id="a2"),
        event("b", "2026-11-18T10:00:00+01:00", id="b1"),
    ]
    tps = run(config, rules, facts(customer(), events), start="2026-11-16T00:00:00Z", days=7)
    assert [(tp.rule_id, tp.occurrence, tp.reason and tp.reason.value) for tp in tps] == [
        ("low", "a1", None),
        ("low", "a2", "capped"),
        ("high", "b1", None),
    ]


def test_equal_priority_keeps_the_earlier_send(tmp_path):
    config, rules = project(tmp_path, marketing_on("a", "promo"), CONFIG)
    events = [event("a", f"2026-11-1{d}T10:00:00+01:00", id=f"a{d}") for d in (6, 7, 8)]
    tps = run(config, rules, facts(customer(), events), start="2026-11-16T00:00:00Z", days=7)
    assert [tp.reason and tp.reason.value for tp in tps] == [None, None, "capped"]


def test_the_cap_is_a_sliding_period_and_counts_what_was_already_sent(tmp_path):
    config, rules = project(tmp_path, marketing_on("a", "promo"), CONFIG)
    sent = [
        SentRecord(
            key=f"old{i}",
            customer_id="c1",
            category=Category.MARKETING,
            due_at=utc(f"2026-11-1{i}T10:00:00Z"),
        )
        for i in (0, 1)
    ]
    events = [
        event("a", "2026-11-16T10:00:00+01:00", id="inside"),  # 2 sent in the last 7 days
        event("a", "2026-11-18T12:00:00+01:00", id="after"),  # the 10th has left the period
    ]
    tps = run(
        config, rules, facts(customer(), events, sent=sent), start="2026-11-15T00:00:00Z", days=7
    )
    assert [(tp.occurrence, tp.reason and tp.reason.value) for tp in tps] == [
        ("inside", "capped"),
        ("after", None),
    ]


def test_a_send_exactly_one_cap_period_earlier_is_in_the_period_before(tmp_path):
    # The cap's periods are [t, t + 7 days): 2 per 7 days, two sent, the first exactly
    # 7 days before "edge" (which fits) and 7 days minus a minute before "inside".
    config, rules = project(tmp_path, marketing_on("a", "promo"), CONFIG)
    sent = [
        SentRecord(key=key, customer_id="c1", category=Category.MARKETING, due_at=utc(at))
        for key, at in (("s1", "2026-11-09T09:00:00Z"), ("s2", "2026-11-12T09:00:00Z"))
    ]
    events = [
        event("a", "2026-11-16T09:59:00+01:00", id="inside"),
        event("a", "2026-11-16T10:00:00+01:00", id="edge"),
    ]
    for occurrence, reason in (("inside", "capped"), ("edge", None)):
        only = [e for e in events if e.id == occurrence]
        tps = run(
            config, rules, facts(customer(), only, sent=sent), start="2026-11-16T00:00:00Z", days=1
        )
        assert [(tp.occurrence, tp.reason and tp.reason.value) for tp in tps] == [
            (occurrence, reason)
        ]


def test_a_short_and_a_long_preview_agree_on_what_a_cap_holds(tmp_path):
    rules_yaml = marketing_on("a", "low", 1) + marketing_on("b", "high", 9)
    config, rules = project(tmp_path, rules_yaml, CONFIG)
    events = [
        event("a", "2026-11-16T10:00:00+01:00", id="a1"),
        event("a", "2026-11-17T10:00:00+01:00", id="a2"),
        event("b", "2026-11-19T10:00:00+01:00", id="b1"),
        event("b", "2026-11-20T10:00:00+01:00", id="b2"),
    ]
    short = run(config, rules, facts(customer(), events), start="2026-11-16T00:00:00Z", days=2)
    long = run(config, rules, facts(customer(), events), start="2026-11-16T00:00:00Z", days=30)
    assert [(tp.key, tp.reason) for tp in short] == [(tp.key, tp.reason) for tp in long[:2]]


def test_transactional_sends_are_exempt_from_caps(tmp_path):
    config, rules = project(
        tmp_path,
        """
        - id: ack
          category: transactional
          trigger: {event: a}
          action: {template: t}
        """,
        CONFIG,
    )
    events = [event("a", f"2026-11-1{d}T10:00:00+01:00", id=f"a{d}") for d in (6, 7, 8, 9)]
    tps = run(config, rules, facts(customer(), events), start="2026-11-16T00:00:00Z", days=7)
    assert len(planned(tps)) == 4


def test_marketing_needs_consent(tmp_path):
    config, rules = project(tmp_path, marketing_on("a", "promo"), CONFIG)
    tps = run(
        config,
        rules,
        facts(customer(consent_marketing=False), [event("a", "2026-11-16T10:00:00Z")]),
        start="2026-11-16T00:00:00Z",
        days=7,
    )
    assert [tp.reason and tp.reason.value for tp in tps] == ["no_consent"]


def test_suppressions_by_scope(tmp_path):
    rules_yaml = (
        marketing_on("a", "promo")
        + """
- id: ack
  category: transactional
  trigger: {event: a}
  action: {template: t}
"""
    )
    config, rules = project(tmp_path, rules_yaml, CONFIG)
    ev = [event("a", "2026-11-16T10:00:00+01:00")]
    only_marketing = run(
        config,
        rules,
        facts(customer(), ev, suppressed=[SuppressionScope.MARKETING]),
        start="2026-11-16T00:00:00Z",
        days=7,
    )
    everything = run(
        config,
        rules,
        facts(customer(), ev, suppressed=[SuppressionScope.ALL]),
        start="2026-11-16T00:00:00Z",
        days=7,
    )
    assert {(tp.rule_id, tp.reason and tp.reason.value) for tp in only_marketing} == {
        ("promo", "suppressed"),
        ("ack", None),
    }
    assert {tp.reason and tp.reason.value for tp in everything} == {"suppressed"}


def test_a_customer_without_email_is_held_with_no_address(tmp_path):
    config, rules = project(tmp_path, marketing_on("a", "promo"), CONFIG)
    tps = run(
        config,
        rules,
        facts(customer(email=None), [event("a", "2026-11-16T10:00:00Z")]),
        start="2026-11-16T00:00:00Z",
        days=7,
    )
    assert [tp.reason and tp.reason.value for tp in tps] == ["no_address"]


def test_a_rule_can_override_the_window(tmp_path):
    rule = marketing_on("a", "promo", extra="  policies: {send_window: none}\n")
    config, rules = project(tmp_path, rule, CONFIG)
    night = event("a", "2026-11-17T23:30:00+01:00")
    tps = run(config, rules, facts(customer(), [night]), start="2026-11-17T00:00:00Z", days=7)
    assert [local(tp) for tp in tps] == ["2026-11-17 23:30"]


def test_a_skipped_holiday_is_held_at_the_time_it_fell_on(tmp_path):
    rule = marketing_on("ping", "promo", extra="  policies: {holidays: skip}\n")
    config, rules = project(tmp_path, rule, CONFIG)
    # Thursday 24 Dec 21:00 is outside the window; the next opening is 25 Dec, a holiday.
    late = event("ping", "2026-12-24T21:00:00+01:00")
    tps = run(config, rules, facts(customer(), [late]), start="2026-12-20T00:00:00Z", days=14)
    assert [(local(tp), tp.reason and tp.reason.value) for tp in tps] == [
        ("2026-12-25 09:00", "skipped_holiday")
    ]


def test_the_cap_detail_says_the_period_in_words(tmp_path):
    config, rules = project(tmp_path, marketing_on("a", "promo"), CONFIG)
    events = [event("a", f"2026-11-1{d}T10:00:00+01:00", id=f"a{d}") for d in (6, 7, 8)]
    tps = run(config, rules, facts(customer(), events), start="2026-11-16T00:00:00Z", days=7)
    assert tps[-1].detail == "cap of 2 marketing per 7 days reached"
