"""Phone numbers: checked and normalised to E.164 (``+4915112345678``) with ``phonenumbers``.

A number in international form (``+49 151 ...``) stands on its own; one in national
form (``0151 ...``) is read in the customer's country, else the project's. A number
that cannot be read, or that no country's numbering plan has, is an ``InvalidValue``
like every other bad field of an import, so its row is reported with its line.
"""

from __future__ import annotations

from touchflow.data.fields import InvalidValue
from touchflow.data.readers import quoted

_INTERNATIONAL = "write it in international form, like +4915112345678"


def phone_number(name: str, text: str, country: str | None) -> str:
    """``text`` in E.164; ``country`` (ISO 3166-1 alpha-2) reads a national number."""
    import phonenumbers  # here: its 30 ms would slow every command's start

    written, text = text, text.strip()
    if text.startswith("00"):  # the international prefix of most countries: "+"
        text = "+" + text[2:]
    international = text.startswith("+")
    if not international and country is None:
        raise InvalidValue(
            f"{name} {quoted(written)} is in national form and there is no country to read it "
            f"in (the customer has none, nor has touchflow.yaml): {_INTERNATIONAL}"
        )
    try:
        number = phonenumbers.parse(text, None if international else country)
    except phonenumbers.NumberParseException:
        raise InvalidValue(
            f"{name} {quoted(written)} is not a phone number: {_INTERNATIONAL}"
        ) from None
    if not phonenumbers.is_valid_number(number):
        where = "" if international else f" in {country}"
        raise InvalidValue(
            f"{name} {quoted(written)} is not a valid phone number{where}: {_INTERNATIONAL}"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
