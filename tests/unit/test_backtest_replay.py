"""`touchflow backtest`'s replay of one customer: each plan made with what the store knew
then, each send once, late events caught up or missed as the daemon would."""

from __future__ import annotations

from datetime import timedelta

from support import customer, event, facts, project, utc

from touchflow.explain.backtest_replay import (
    Customer,
    Period,
    SendCheck,
    WouldSend,
    replay_page,
)
from touchflow.models import KnownSince, SuppressionScope, Window
from touchflow.plan.planner import Planner

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
- id: sale
  category: marketing
  trigger: {cron: "0 10 * * *"}
  action: {template: t}
"""
NOVEMBER = Period(
    start=utc("2026-11-01T00:00:00Z"), end=utc("2026-12-01T00:00:00Z"), catch_up=timedelta(days=7)
)


NOTHING_RECORDED = KnownSince()


def replay(tmp_path, f, known=NOTHING_RECORDED, rule="reminder", period=NOVEMBER,
           rules_yaml=REMINDER, config_yaml="", sent_before=()):  # fmt: skip
    config, rules = project(tmp_path, rules_yaml, config_yaml)
    window = Window(start=period.start, end=period.end)
    planner = Planner(rules, window=window, config=config, now=period.start)
    caps = {r.id: r.policies.caps for r in rules}
    one = Customer(f, known, sent_before)
    sends = replay_page(planner, [one], period, caps, SendCheck(rules, config))
    return [_line(s) for s in sends if rule in (None, s.rule_id)]


def _line(s: WouldSend) -> tuple[str, str, str]:
    late = " (late)" if s.late else ""
    return (s.key.split(":", 2)[2], s.send_at.strftime("%m-%d %H:%M") + late, _hm(s))


def _hm(s: WouldSend) -> str:
    return "due " + s.due_at.strftime("%m-%d %H:%M")


def booked(starts: str, at: str = "2026-10-20T09:00:00Z"):
    return event("appointment_booked", at, {"appointment_id": "a1", "starts_at": starts}, id="b")


def test_what_the_store_knew_before_the_period_is_sent_when_due(tmp_path):
    f = facts(customer(), [booked("2026-11-10T15:00:00Z")])
    assert replay(tmp_path, f) == [
        ("a1:24h-before", "11-09 15:00", "due 11-09 15:00"),
        ("a1:2h-before", "11-10 13:00", "due 11-10 13:00"),
    ]


def test_a_reschedule_counts_from_when_it_was_recorded_not_from_when_it_happened(tmp_path):
    # Rescheduled on 2 November, recorded only on the 9th at 16:00: the 24-hour reminder
    # had gone out at the old time by then, and is not sent twice; the 2-hour one moves.
    data = {"appointment_id": "a1", "starts_at": "2026-11-12T11:00:00Z"}
    moved = event("appointment_rescheduled", "2026-11-02T10:00:00Z", data, id="r")
    f = facts(customer(), [booked("2026-11-10T15:00:00Z"), moved])
    known = KnownSince(events={"b": None, "r": utc("2026-11-09T16:00:00Z")})
    assert replay(tmp_path, f, known) == [
        ("a1:24h-before", "11-09 15:00", "due 11-09 15:00"),
        ("a1:2h-before", "11-12 09:00", "due 11-12 09:00"),
    ]
    # Had it been recorded when it happened, both reminders would have moved.
    known = KnownSince(events={"r": utc("2026-11-02T10:00:00Z")})
    assert [send for _, send, _ in replay(tmp_path, f, known)] == ["11-11 11:00", "11-12 09:00"]


def test_a_cancellation_stops_what_is_still_to_come_from_when_it_was_recorded(tmp_path):
    cancelled = event("appointment_cancelled", "2026-11-09T18:00:00Z",
                      {"appointment_id": "a1"}, id="x")  # fmt: skip
    f = facts(customer(), [booked("2026-11-10T15:00:00Z"), cancelled])
    assert replay(tmp_path, f) == [("a1:24h-before", "11-09 15:00", "due 11-09 15:00")]


def test_a_late_booking_is_caught_up_when_recorded_or_missed_once_it_expired(tmp_path):
    # Recorded at 14:00 on the day, after both reminders were due: the daemon catches
    # them up at once, as the appointment (their expiry) has not begun.
    f = facts(customer(), [booked("2026-11-10T15:00:00Z", at="2026-11-10T14:00:00Z")])
    assert replay(tmp_path, f) == [
        ("a1:24h-before", "11-10 14:00", "due 11-09 15:00"),
        ("a1:2h-before", "11-10 14:00", "due 11-10 13:00"),
    ]
    # Recorded after the appointment began: too late for either.
    known = KnownSince(events={"b": utc("2026-11-10T15:30:00Z")})
    assert replay(tmp_path, f, known) == [
        ("a1:24h-before", "11-10 15:30 (late)", "due 11-09 15:00"),
        ("a1:2h-before", "11-10 15:30 (late)", "due 11-10 13:00"),
    ]


def test_an_event_recorded_after_the_period_is_not_known_in_it(tmp_path):
    f = facts(customer(), [booked("2026-11-10T15:00:00Z")])
    known = KnownSince(events={"b": utc("2026-12-02T00:00:00Z")})
    assert replay(tmp_path, f, known) == []


def test_a_suppression_counts_from_when_it_was_added(tmp_path):
    f = facts(customer(), suppressed=[SuppressionScope.MARKETING])
    known = KnownSince(suppressions={SuppressionScope.MARKETING: utc("2026-11-03T12:00:00Z")})
    sales = replay(tmp_path, f, known, rule="sale")
    # (Sunday's sale goes out on Monday morning, at the start of the send window.)
    assert [send for _, send, _ in sales] == ["11-02 08:00", "11-02 09:00", "11-03 09:00"]
    assert replay(tmp_path, f, NOTHING_RECORDED, rule="sale") == []  # since when: not known


def test_a_customer_counts_from_when_they_came(tmp_path):
    # Imported at 12:00 on the 28th: that morning's sale had not expired, so the daemon
    # catches it up at once; nothing due before they came is missed ("late").
    f = facts(customer(created_at=utc("2026-11-28T12:00:00Z")))
    sales = replay(tmp_path, f, rule="sale")
    assert [send for _, send, _ in sales] == ["11-28 12:00", "11-30 08:00", "11-30 09:00"]


def test_a_key_sent_before_the_period_is_not_sent_again(tmp_path):
    # The 24-hour reminder went out on 31 October; the appointment was then moved a day
    # later, which moves that reminder into November. The daemon never sends a key twice.
    data = {"appointment_id": "a1", "starts_at": "2026-11-02T15:00:00Z"}
    moved = event("appointment_rescheduled", "2026-10-31T18:00:00Z", data, id="r")
    f = facts(customer(), [booked("2026-11-01T15:00:00Z"), moved])
    sent = ["reminder:c1:a1:24h-before"]
    assert replay(tmp_path, f, sent_before=sent) == [
        ("a1:2h-before", "11-02 13:00", "due 11-02 13:00")
    ]
    # Without the outbox's word, it would be sent on 1 November.
    assert replay(tmp_path, f)[0] == ("a1:24h-before", "11-01 15:00", "due 11-01 15:00")


def test_as_happened_counts_events_from_their_time_and_customers_throughout(tmp_path):
    late = Period(start=NOVEMBER.start, end=NOVEMBER.end, catch_up=NOVEMBER.catch_up,
                  as_happened=True)  # fmt: skip
    f = facts(customer(created_at=utc("2026-11-28T12:00:00Z")),
              [booked("2026-11-10T15:00:00Z", at="2026-10-20T09:00:00Z")])  # fmt: skip
    known = KnownSince(events={"b": utc("2026-11-27T00:00:00Z")})
    assert replay(tmp_path, f, known) == []  # recorded, and the customer came, too late
    assert [send for _, send, _ in replay(tmp_path, f, known, period=late)] == [
        "11-09 15:00", "11-10 13:00"
    ]  # fmt: skip


CAPPED = """
timezone: UTC
policies:
  marketing: {send_window: none, require_consent: false}
caps:
  - {category: marketing, max: 1, per: 7 days}
daemon: {horizon: 2 days}
"""


def offer(rule_id: str, priority: int, extra: str = "") -> str:
    return f"""
- id: {rule_id}
  category: marketing
  priority: {priority}
  trigger: {{event: {rule_id}, anchor: event.data.at}}
  action: {{template: t}}
{extra}"""


def offered(rule_id: str, at: str, recorded: str = "2026-10-20T09:00:00Z"):
    return event(rule_id, recorded, {"at": at}, id=rule_id)


def test_a_cap_weighs_only_what_the_daemon_sees_within_its_horizon(tmp_path):
    # One per 7 days. The promo of the 17th outranks the one of the 11th, which outranks
    # the tip of the 5th. Checking the tip before its send, the daemon sees the 11th's
    # (2 days ahead, and a cap period beyond) but not the 17th's: the tip is held. So is
    # the 11th's, by the 17th's. Planning the whole month at once would send the tip.
    rules = offer("tip", 10) + offer("promo-a", 20) + offer("promo-b", 30)
    events = [offered("tip", "2026-11-05T10:00:00Z"), offered("promo-a", "2026-11-11T10:00:00Z"),
              offered("promo-b", "2026-11-17T10:00:00Z")]  # fmt: skip
    sends = replay(tmp_path, facts(customer(), events), rule=None, rules_yaml=rules,
                   config_yaml=CAPPED)  # fmt: skip
    assert [(key, send) for key, send, _ in sends] == [("promo-b:0", "11-17 10:00")]


def test_a_touchpoint_that_went_unsent_long_before_does_not_fill_a_later_cap(tmp_path):
    # The promo's event came in three hours late, after the promo had expired: late.
    # The daemon's check before the tip's send plans from a day before the tip: the
    # unsent promo two days earlier is not there to fill the cap.
    rules = offer("promo", 20, "  expires_after: 2 hours") + offer("tip", 10)
    events = [offered("promo", "2026-11-04T11:00:00Z", recorded="2026-11-04T14:00:00Z"),
              offered("tip", "2026-11-06T10:00:00Z")]  # fmt: skip
    known = KnownSince(events={"promo": utc("2026-11-04T14:00:00Z")})
    hourly = Period(start=NOVEMBER.start, end=NOVEMBER.end, catch_up=timedelta(hours=1))
    sends = replay(tmp_path, facts(customer(), events), known, rule=None, period=hourly,
                   rules_yaml=rules, config_yaml=CAPPED)  # fmt: skip
    assert sends == [
        ("promo:0", "11-04 14:00 (late)", "due 11-04 11:00"),
        ("tip:0", "11-06 10:00", "due 11-06 10:00"),
    ]


def test_a_suppression_of_the_number_counts_from_when_it_was_added(tmp_path):
    import dataclasses

    texted = REMINDER.replace(
        "action: {template: t}\n- id: sale", "action: {channel: sms, template: t}\n- id: sale"
    )
    who = customer(phone="+4915112345678", consent_sms=True)
    f = dataclasses.replace(
        facts(who, [booked("2026-11-10T15:00:00Z")]),
        suppressed_phone=frozenset({SuppressionScope.ALL}),
    )
    stop = KnownSince(phone_suppressions={SuppressionScope.ALL: utc("2026-11-10T00:00:00Z")})
    sms = "delivery:\n  sms: {provider: folder}\n"
    # The day before the appointment the number was not suppressed yet; 2 hours before it was.
    assert replay(tmp_path, f, stop, rules_yaml=texted, config_yaml=sms) == [
        ("a1:24h-before", "11-09 15:00", "due 11-09 15:00"),
    ]
    assert replay(tmp_path, f, NOTHING_RECORDED, rules_yaml=texted, config_yaml=sms) == []
