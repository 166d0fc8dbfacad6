"""The channel of each touchpoint: the first of the rule's channels the customer can
receive (address, suppressions, consent), the same in `why`, and quiet hours for texts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support import customer, event, facts, local, project, run

from touchflow.models import HoldReason, OutboxState, PlannedTouchpoint, SuppressionScope
from touchflow.phone_types import can_text
from touchflow.plan.channels import choose, is_e164
from touchflow.send.outbox import Close, desired_rows, verdict

SMS = """
timezone: Europe/Berlin
country: DE
delivery:
  sms: {provider: folder}
"""
PHONE = "+4915112345678"
TEXTED: dict[str, Any] = {"phone": PHONE, "consent_sms": True}
PING = event("ping", "2026-11-18T10:00:00+01:00")  # a Wednesday, 10:00 Berlin


def rule(action: str, category: str = "transactional", extra: str = "") -> str:
    return f"""
- id: r
  category: {category}
  trigger: {{event: ping}}
  action: {action}
{extra}"""


def one(
    tmp_path: Any, action: str, *, suppressed_phone: frozenset[SuppressionScope] = frozenset(),
    category: str = "transactional", at: Any = PING, **who: Any,
) -> PlannedTouchpoint:  # fmt: skip
    config, rules = project(tmp_path, rule(action, category), SMS)
    found = dataclasses.replace(facts(customer(**who), [at]), suppressed_phone=suppressed_phone)
    [tp] = run(config, rules, found, start="2026-11-16T00:00:00Z", days=7)
    return tp


FALLBACK = "{channels: [sms, email], template: t}"


def test_a_fallback_goes_by_sms_to_a_customer_who_can_get_texts(tmp_path: Any) -> None:
    tp = one(tmp_path, FALLBACK, **TEXTED)
    assert (tp.channel, tp.to, tp.reason) == ("sms", PHONE, None)


@pytest.mark.parametrize(
    ("who", "suppressed"),
    [
        ({}, frozenset()),  # no number
        ({"phone": PHONE}, frozenset()),  # no consent to texts
        (TEXTED, frozenset({SuppressionScope.ALL})),  # the number said STOP
        ({"phone": "015112345678", "consent_sms": True}, frozenset()),  # not E.164
    ],
)
def test_a_fallback_goes_by_email_to_a_customer_who_cannot_get_texts(
    tmp_path: Any, who: dict[str, Any], suppressed: frozenset[SuppressionScope]
) -> None:
    tp = one(tmp_path, FALLBACK, suppressed_phone=suppressed, **who)
    assert (tp.channel, tp.to, tp.reason) == ("email", "ana@example.com", None)


def test_a_marketing_suppression_of_the_number_stops_only_marketing_texts(tmp_path: Any) -> None:
    scopes = frozenset({SuppressionScope.MARKETING})
    assert (
        one(tmp_path, "{channel: sms, template: t}", suppressed_phone=scopes, **TEXTED).reason
        is None
    )
    held = one(tmp_path, "{channel: sms, template: t}", suppressed_phone=scopes,
               category="marketing", **TEXTED)  # fmt: skip
    assert (held.reason, held.detail) == (HoldReason.SUPPRESSED, f"{PHONE} is suppressed")


def test_held_with_the_first_channel_s_reason_and_why_each_failed(tmp_path: Any) -> None:
    tp = one(tmp_path, FALLBACK, email=None, phone=PHONE)
    assert (tp.channel, tp.to, tp.reason) == ("sms", PHONE, HoldReason.NO_CONSENT)
    assert tp.detail == (
        "sms: customer has not consented to texts; email: customer has no email address"
    )


def test_a_text_needs_consent_even_for_a_reminder(tmp_path: Any) -> None:
    tp = one(tmp_path, "{channel: sms, template: t}", phone=PHONE)  # transactional
    assert (tp.reason, tp.detail) == (HoldReason.NO_CONSENT, "customer has not consented to texts")
    tp = one(tmp_path, "{channel: sms, template: t}")
    assert (tp.reason, tp.detail, tp.to) == (
        HoldReason.NO_ADDRESS, "customer has no phone number", None
    )  # fmt: skip


def test_one_channel_rules_keep_their_address(tmp_path: Any) -> None:
    assert one(tmp_path, "{template: t}", **TEXTED).to == "ana@example.com"
    sms = one(tmp_path, "{channel: sms, template: t}", **TEXTED)
    assert (sms.channel, sms.to) == ("sms", PHONE)


def test_email_first_falls_back_to_sms_without_marketing_consent(tmp_path: Any) -> None:
    tp = one(tmp_path, "{channels: [email, sms], template: t}", category="marketing",
             consent_marketing=False, **TEXTED)  # fmt: skip
    assert (tp.channel, tp.to, tp.reason) == ("sms", PHONE, None)


def test_choose_names_every_failed_channel_in_order(tmp_path: Any) -> None:
    _config, [r] = project(tmp_path, rule("{channels: [sms, email], template: t}"), SMS)
    found = facts(customer(email=None))
    assert choose(found, r) == (
        "sms", (HoldReason.NO_ADDRESS,
                "sms: customer has no phone number; email: customer has no email address"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "ok"),
    [(PHONE, True), ("+1", False), ("4915112345678", False), ("+0151", False), ("+49 151", False)],
)
def test_what_counts_as_a_stored_number(text: str, ok: bool) -> None:
    assert is_e164(text) is ok


# --- quiet hours ------------------------------------------------------------------


def test_a_marketing_text_waits_for_the_marketing_hours(tmp_path: Any) -> None:
    early = event("ping", "2026-11-18T06:30:00+01:00")
    window = '  policies: {send_window: {from: "07:00", to: "22:00"}}'
    config, rules = project(tmp_path, rule("{channel: sms, template: t}", "marketing", window), SMS)
    [tp] = run(config, rules, facts(customer(**TEXTED), [early]),
               start="2026-11-16T00:00:00Z", days=7)  # fmt: skip
    # The rule's window opens at 07:00; texts only from 08:00 on.
    assert local(tp) == "2026-11-18 08:00"


def test_a_marketing_text_not_sent_by_the_close_of_the_hours_expires_then(tmp_path: Any) -> None:
    late = event("ping", "2026-11-18T20:30:00+01:00")  # due at once; expires at 21:00
    window = '  policies: {send_window: {from: "07:00", to: "22:00"}}'
    config, rules = project(tmp_path, rule("{channel: sms, template: t}", "marketing", window), SMS)
    [tp] = run(config, rules, facts(customer(**TEXTED), [late]),
               start="2026-11-16T00:00:00Z", days=7)  # fmt: skip
    assert tp.expires_at is not None
    assert tp.expires_at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == "21:00"
    # The daemon was down: at 23:30 the fresh plan says it expired; it is not sent at night.
    (row,) = desired_rows([tp], {})
    night = datetime(2026, 11, 18, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    ended = verdict(row, tp, now=night)
    assert isinstance(ended, Close) and ended.row.state is OutboxState.EXPIRED


def test_a_transactional_text_keeps_its_own_expiry(tmp_path: Any) -> None:
    late = event("ping", "2026-11-18T20:30:00+01:00")
    config, rules = project(tmp_path, rule("{channel: sms, template: t}"), SMS)
    [tp] = run(config, rules, facts(customer(**TEXTED), [late]),
               start="2026-11-16T00:00:00Z", days=7)  # fmt: skip
    assert tp.expires_at == datetime(2026, 11, 19, 19, 30, tzinfo=UTC)  # a day after its due


def test_quiet_hours_narrow_a_wide_window_and_apply_to_the_whole_fallback(tmp_path: Any) -> None:
    window = '  policies: {send_window: {from: "06:00", to: "23:00"}}'
    yaml = rule("{channels: [sms, email], template: t}", "marketing", window)
    config, [r] = project(tmp_path, yaml, SMS)
    assert r.policies.send_window is not None
    assert (r.policies.send_window.start.hour, r.policies.send_window.end.hour) == (8, 21)
    late = event("ping", "2026-11-18T22:00:00+01:00")
    [tp] = run(config, [r], facts(customer(), [late]), start="2026-11-16T00:00:00Z", days=7)
    assert (tp.channel, local(tp)) == ("email", "2026-11-19 08:00")  # the email waits too


def test_quiet_hours_give_a_rule_without_a_window_those_hours_every_day(tmp_path: Any) -> None:
    yaml = rule("{channel: sms, template: t}", "marketing", "  policies: {send_window: none}")
    _config, [r] = project(tmp_path, yaml, SMS)
    window = r.policies.send_window
    assert window is not None and (window.start.hour, window.end.hour) == (8, 21)
    assert window.days == frozenset(range(7))


def test_transactional_texts_and_marketing_mail_keep_their_window(tmp_path: Any) -> None:
    _config, [r] = project(tmp_path, rule("{channel: sms, template: t}"), SMS)
    assert r.policies.send_window is None
    _config, [m] = project(tmp_path, rule("{template: t}", "marketing"), SMS)
    assert m.policies.send_window is not None and m.policies.send_window.end.hour == 20


def test_a_window_outside_the_marketing_hours_is_a_rule_error(tmp_path: Any) -> None:
    from touchflow.errors import RuleError

    window = '  policies: {send_window: {from: "21:30", to: "23:00"}}'
    with pytest.raises(RuleError) as caught:
        project(tmp_path, rule("{channel: sms, template: t}", "marketing", window), SMS)
    [problem] = caught.value.problems
    assert problem.line == 2 and "never overlap" in problem.message


# --- caps across channels, or per channel ---------------------------------------------

CAPPED = (
    SMS
    + "policies:\n  marketing: {send_window: none}\n"
    + "caps:\n  - {category: marketing, max: 1, per: 1 day{per_channel}}\n"
)
TWO = """
- id: by-text
  category: marketing
  trigger: {event: ping}
  action: {channel: sms, template: t}
- id: by-mail
  category: marketing
  priority: 5
  trigger: {event: ping}
  action: {template: t}
"""


def capped(tmp_path: Any, per_channel: str) -> list[tuple[str, str, Any]]:
    config, rules = project(tmp_path, TWO, CAPPED.replace("{per_channel}", per_channel))
    tps = run(config, rules, facts(customer(**TEXTED), [PING]), start="2026-11-16T00:00:00Z",
              days=7)  # fmt: skip
    return sorted((tp.rule_id, tp.channel, tp.reason) for tp in tps)


def test_a_cap_counts_every_channel_together_by_default(tmp_path: Any) -> None:
    assert capped(tmp_path, "") == [
        ("by-mail", "email", None),
        ("by-text", "sms", HoldReason.CAPPED),
    ]


def test_a_cap_per_channel_counts_each_apart(tmp_path: Any) -> None:
    assert capped(tmp_path, ", per_channel: true") == [
        ("by-mail", "email", None),
        ("by-text", "sms", None),
    ]


def test_a_cap_per_channel_counts_the_sends_of_its_channel(tmp_path: Any) -> None:
    from touchflow.models import Category, SentRecord

    config, rules = project(tmp_path, TWO, CAPPED.replace("{per_channel}", ", per_channel: true"))
    text = SentRecord(key="k", customer_id="c1", category=Category.MARKETING,
                      due_at=PING.at, channel="sms")  # fmt: skip
    found = dataclasses.replace(facts(customer(**TEXTED), [PING]), sent=(text,))
    tps = run(config, rules, found, start="2026-11-16T00:00:00Z", days=7)
    assert sorted((tp.rule_id, tp.reason) for tp in tps) == [
        ("by-mail", None),
        ("by-text", HoldReason.CAPPED),
    ]
    [held] = [tp for tp in tps if tp.reason]
    assert held.detail == "cap of 1 marketing sms per 1 day reached"


def test_per_channel_must_be_true_or_false(tmp_path: Any) -> None:
    from support import config_problems, the_problem

    yaml = "caps:\n  - {category: marketing, max: 1, per: 1 day, per_channel: maybe}\n"
    where, message = the_problem(config_problems(tmp_path, yaml))
    assert (where, message) == (
        "touchflow.yaml:2",
        "cap per_channel must be true or false, not 'maybe'",
    )


def test_a_landline_cannot_get_texts_so_the_fallback_e_mails(tmp_path: Any) -> None:
    landline = {"phone": "+49301234567", "consent_sms": True}  # Berlin, not a mobile
    tp = one(tmp_path, FALLBACK, **landline)
    assert (tp.channel, tp.to, tp.reason) == ("email", "ana@example.com", None)
    held = one(tmp_path / "sms", "{channel: sms, template: t}", **landline)
    assert (held.reason, held.detail) == (
        HoldReason.NO_ADDRESS,
        "+49301234567 is not a mobile number: texts cannot reach it",
    )


@pytest.mark.parametrize("number", ["+12125550182", "+4915112345678", "+33612345678"])
def test_mobile_and_mobile_like_numbers_can_get_texts(number: str) -> None:
    assert can_text(number)


@pytest.mark.parametrize("number", ["+49301234567", "+494915123456789", "+4980012345678", "+1"])
def test_landlines_toll_free_and_nonsense_cannot(number: str) -> None:
    assert not can_text(number)
