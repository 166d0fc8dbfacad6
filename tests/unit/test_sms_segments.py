"""SMS segments counted as carriers count them: GSM-7 with its extension table, else UCS-2."""

from __future__ import annotations

import pytest

from touchflow.messages.sms_segments import Encoding, count_segments, shown_char


@pytest.mark.parametrize(
    ("text", "count", "units"),
    [
        pytest.param("", 0, 0, id="empty"),
        pytest.param("a", 1, 1, id="one-char"),
        pytest.param("a" * 160, 1, 160, id="160-one-segment"),
        pytest.param("a" * 161, 2, 161, id="161-two-segments"),
        pytest.param("a" * 306, 2, 306, id="153x2-two-segments"),
        pytest.param("a" * 307, 3, 307, id="153x2+1-three-segments"),
        pytest.param("a" * 459, 3, 459, id="153x3-three-segments"),
        pytest.param("Grüße, Ñandù! ¿Qué? £5 @ 10% — no", None, None, id="not-gsm-dash"),
        pytest.param("Grüße aus Köln, Ñandù ¿Qué tal? £5 @ 10% ÆØÅ", 1, 44, id="gsm-accents"),
    ],
)
def test_gsm7_texts(text: str, count: int | None, units: int | None) -> None:
    found = count_segments(text)
    if count is None:  # the em dash is not GSM-7: the text goes as UCS-2
        assert found.encoding is Encoding.UCS2 and found.forced_by == "\N{EM DASH}"
        return
    assert (found.encoding, found.count, found.units, found.forced_by) == (
        Encoding.GSM7,
        count,
        units,
        None,
    )


@pytest.mark.parametrize(
    ("text", "count", "units"),
    [
        pytest.param("€" * 80, 1, 160, id="80-euro-signs-are-160-septets"),
        pytest.param("€" * 80 + "a", 2, 161, id="one-more-septet-two-segments"),
        pytest.param("a" * 159 + "[", 2, 161, id="bracket-at-the-boundary"),
        pytest.param("{}[]~|^\\\f€", 1, 20, id="every-extension-char"),
    ],
)
def test_extension_characters_cost_two_septets(text: str, count: int, units: int) -> None:
    found = count_segments(text)
    assert (found.encoding, found.count, found.units) == (Encoding.GSM7, count, units)


@pytest.mark.parametrize(
    ("text", "count", "units", "forced_by"),
    [
        pytest.param("ê" * 70, 1, 70, "ê", id="70-one-segment"),
        pytest.param("ê" * 71, 2, 71, "ê", id="71-two-segments"),
        pytest.param("ê" * 134, 2, 134, "ê", id="67x2-two-segments"),
        pytest.param("ê" * 135, 3, 135, "ê", id="67x2+1-three-segments"),
        pytest.param(
            "a" * 69 + "\N{RIGHT SINGLE QUOTATION MARK}",
            1,
            70,
            "\N{RIGHT SINGLE QUOTATION MARK}",
            id="a-curly-quote-makes-it-ucs2",
        ),
        pytest.param(
            "Hi " + "a" * 60 + " \N{GRINNING FACE}",
            1,
            66,
            "\N{GRINNING FACE}",
            id="emoji-is-two-units",
        ),
        pytest.param("\N{GRINNING FACE}" * 35, 1, 70, "\N{GRINNING FACE}", id="35-emoji-fill-one"),
        pytest.param("\N{GRINNING FACE}" * 36, 2, 72, "\N{GRINNING FACE}", id="36-emoji-two"),
        pytest.param("Привет", 1, 6, "П", id="cyrillic"),
    ],
)
def test_anything_outside_gsm7_sends_the_text_as_ucs2(
    text: str, count: int, units: int, forced_by: str
) -> None:
    found = count_segments(text)
    assert (found.encoding, found.count, found.units, found.forced_by) == (
        Encoding.UCS2,
        count,
        units,
        forced_by,
    )


def test_a_character_is_named_with_its_code_point() -> None:
    assert (
        shown_char("\N{RIGHT SINGLE QUOTATION MARK}") == "\N{RIGHT SINGLE QUOTATION MARK} (U+2019)"
    )
    assert shown_char("\u200b") == "U+200B"  # invisible: the code point alone


@pytest.mark.parametrize(
    ("text", "encoding", "count", "units"),
    [
        pytest.param("😀" * 67, Encoding.UCS2, 3, 134, id="67-emoji-33-a-segment"),
        pytest.param("😀" * 66, Encoding.UCS2, 2, 132, id="66-emoji-two-segments"),
        pytest.param("a" * 152 + "€" + "a" * 152, Encoding.GSM7, 3, 306, id="euro-at-the-edge"),
        pytest.param("a" * 151 + "€" + "a" * 153, Encoding.GSM7, 2, 306, id="euro-that-fits"),
        pytest.param("ä" * 66 + "😀" + "ä" * 66, Encoding.UCS2, 3, 134, id="pair-at-the-edge"),
    ],
)
def test_a_pair_is_never_split_across_segments(
    text: str, encoding: Encoding, count: int, units: int
) -> None:
    found = count_segments(text)
    assert (found.encoding, found.count, found.units) == (encoding, count, units)
