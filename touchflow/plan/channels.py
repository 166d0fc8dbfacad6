"""Which channel a touchpoint goes by: the first of its rule's ``channels`` the customer
can receive, decided at plan time (so the preview, ``why`` and the outbox agree).

- email: an e-mail address that is not suppressed (all, or marketing for a marketing
  rule), and consent to marketing where the rule's policies require consent;
- sms: a phone number (E.164, as imported) that can get texts (a mobile number:
  touchflow.phone_types), is not suppressed, and ``consent_sms`` for every category: a
  text reaches a phone in a pocket, so reminders need consent too;
- webhook: no address (it posts to the project's URL); consent and the suppressions of
  the customer's e-mail address apply as for email (docs/channels.md).

Each gate returns None (receivable: the usual case, no allocation) or the hold reason
and its words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from touchflow.models import Category, CustomerFacts, HoldReason, SuppressionScope
from touchflow.phone_types import can_text
from touchflow.rules.schema import Rule

Held = tuple[HoldReason, str]

NO_EMAIL = "customer has no email address"
NO_PHONE = "customer has no phone number"
NO_MARKETING_CONSENT = "customer has not consented to marketing"
NO_SMS_CONSENT = "customer has not consented to texts"


def blocks(scopes: frozenset[SuppressionScope], rule: Rule) -> bool:
    """Whether suppressions with these scopes stop this rule's touchpoints."""
    return bool(scopes) and (
        SuppressionScope.ALL in scopes
        or (rule.category is Category.MARKETING and SuppressionScope.MARKETING in scopes)
    )


def email_gate(facts: CustomerFacts, rule: Rule) -> Held | None:
    customer = facts.customer
    if not customer.email:
        return HoldReason.NO_ADDRESS, NO_EMAIL
    return _mail_like(facts, rule)


def webhook_gate(facts: CustomerFacts, rule: Rule) -> Held | None:
    return _mail_like(facts, rule)  # a webhook needs no address


def _mail_like(facts: CustomerFacts, rule: Rule) -> Held | None:
    customer = facts.customer
    if blocks(facts.suppressed, rule):
        return HoldReason.SUPPRESSED, f"{customer.email} is suppressed"
    if rule.policies.require_consent and not customer.consent_marketing:
        return HoldReason.NO_CONSENT, NO_MARKETING_CONSENT
    return None


def sms_gate(facts: CustomerFacts, rule: Rule) -> Held | None:
    customer = facts.customer
    phone = customer.phone
    if not phone:
        return HoldReason.NO_ADDRESS, NO_PHONE
    if not is_e164(phone):  # stored before numbers were checked on import
        return HoldReason.NO_ADDRESS, f"phone number {phone!r} is not in E.164: import it again"
    # Is it a mobile number? It reads the numbering plan (cached), so it is asked only of
    # customers who agreed to texts: for the others the answer changes nothing.
    if customer.consent_sms and not can_text(phone):
        return HoldReason.NO_ADDRESS, f"{phone} is not a mobile number: texts cannot reach it"
    if blocks(facts.suppressed_phone, rule):
        return HoldReason.SUPPRESSED, f"{phone} is suppressed"
    if not customer.consent_sms:
        return HoldReason.NO_CONSENT, NO_SMS_CONSENT
    return None


def is_e164(text: str) -> bool:
    """``+`` and 7 to 15 digits, the first not 0: a number as the importer stores it."""
    return 8 <= len(text) <= 16 and text[0] == "+" and text[1:].isdigit() and text[1] != "0"


GATES: Mapping[str, Callable[[CustomerFacts, Rule], Held | None]] = {
    "email": email_gate,
    "sms": sms_gate,
    "webhook": webhook_gate,
}


def choose(facts: CustomerFacts, rule: Rule) -> tuple[str, Held | None]:
    """The channel it goes by, or (the first channel) the first channel's hold reason
    with words naming why each channel failed: ``sms: ...; email: ...``."""
    failed: list[tuple[str, Held]] = []
    for channel in rule.channels:
        held = GATES[channel](facts, rule)
        if held is None:
            return channel, None
        failed.append((channel, held))
    detail = "; ".join(f"{channel}: {words}" for channel, (_, words) in failed)
    return rule.channel, (failed[0][1][0], detail)


def address_of(facts: CustomerFacts, channel: str) -> str | None:
    """Where a touchpoint by ``channel`` goes: the e-mail address, the phone number, or
    None (a webhook posts to the project's URL)."""
    if channel == "email":
        return facts.customer.email
    if channel == "sms":
        return facts.customer.phone
    return None
