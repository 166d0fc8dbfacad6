"""Whether a stored number (E.164) can receive texts, by its numbering plan.

Mobile numbers can, and so can those a plan cannot tell from mobile ones (all of the
US and Canada), personal numbers and VoIP numbers. A landline, a toll-free or a
premium number cannot: Twilio refuses the text (21614) and the customer would get
nothing, where a rule's fallback (``channels: [sms, email]``) could have e-mailed them.
A number imported without its ``+`` (``4915112345678`` read in Germany) often lands
here as a landline of the wrong town.

``phonenumbers`` reads the plan (tens of microseconds a number), so the answer is
cached, and the planner asks only for customers who agreed to texts.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1 << 18)
def can_text(number: str) -> bool:
    """True for a mobile (or mobile-like) number; False for a landline or unknown."""
    import phonenumbers  # here: every command imports the planner, few plan texts

    textable = {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
        phonenumbers.PhoneNumberType.VOIP,
    }
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(parsed) in textable
