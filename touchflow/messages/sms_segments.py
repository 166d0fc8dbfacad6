"""How many SMS segments a text costs: GSM-7 (with its extension table) or UCS-2.

A text whose every character is in the GSM 03.38 basic set or its extension table
goes as GSM-7: 160 septets in one segment, 153 a segment once it needs more (the
rest is the concatenation header); an extension character (``€ [ ] { } | ^ ~ \\``
and form feed) costs two septets, an escape and the character. One character outside
both (an accent GSM lacks, a curly quote, an emoji) sends the whole text as UCS-2:
70 UTF-16 code units in one segment, 67 a segment beyond; an emoji outside the Basic
Multilingual Plane is two units. Segments are filled character by character: an
escape pair or a surrogate pair is never split across two, so a segment may end a unit
short (67 emoji take three segments of 33, 33 and 1, not two). Carriers bill per
segment, and phones show a long text in pieces when a segment goes missing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

# GSM 03.38 basic character set (the escape 0x1B is not a character of its own).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")  # two septets each
GSM7_SINGLE, GSM7_PART = 160, 153  # septets: one segment, each part of a longer text
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units


class Encoding(enum.StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True, kw_only=True)
class Segments:
    count: int  # segments the text is sent in (0 for an empty text)
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    forced_by: str | None = None  # with UCS-2: the first character GSM-7 lacks


def count_segments(text: str) -> Segments:
    """The segments ``text`` costs, in the encoding a sender would choose for it."""
    septets: list[int] = []
    for char in text:
        if char in GSM7_BASIC:
            septets.append(1)
        elif char in GSM7_EXTENSION:
            septets.append(2)  # an escape and the character, never split
        else:
            units = [2 if ord(c) > 0xFFFF else 1 for c in text]  # a surrogate pair: two
            return Segments(
                count=_parts(units, UCS2_SINGLE, UCS2_PART),
                encoding=Encoding.UCS2,
                units=sum(units),
                forced_by=char,
            )
    return Segments(
        count=_parts(septets, GSM7_SINGLE, GSM7_PART), encoding=Encoding.GSM7, units=sum(septets)
    )


def _parts(costs: Iterable[int], single: int, part: int) -> int:
    """Segments for characters costing ``costs`` units each, none split across two."""
    costs = list(costs)
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    count, used = 1, 0
    for cost in costs:
        if used + cost > part:  # it does not fit whole: the next segment starts with it
            count, used = count + 1, 0
        used += cost
    return count


def shown_char(char: str) -> str:
    """A character as a warning names it: itself and its code point, e.g. ``ê (U+00EA)``."""
    return f"{char} (U+{ord(char):04X})" if char.isprintable() else f"U+{ord(char):04X}"
