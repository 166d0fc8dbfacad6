"""Every message the sample can send is one worth receiving: a whole HTML document in the
customer's language, and, where it is marketing, a visible unsubscribe link (the one its
List-Unsubscribe header carries) and the business's postal address; List-Id on marketing,
Auto-Submitted on everything. Built as the dispatcher builds them (``sample_messages``)."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from sample_messages import SampleMessage, sample_messages

from touchflow.models import Category

ADDRESS = "Lindenstraße 12, 10969 Berlin, Germany"
# Templates of the sample written in German too: their German messages are German throughout.
GERMAN = {"appointment-reminder", "birthday-card", "referral-request", "testimonial-request"}


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> list[SampleMessage]:
    return sample_messages(tmp_path_factory.mktemp("sample"))


def parsed(message: SampleMessage) -> tuple[EmailMessage, str, str]:
    email = message_from_bytes(message.data, policy=default)
    assert isinstance(email, EmailMessage)
    text, html = email.get_body(("plain",)), email.get_body(("html",))
    assert text is not None and html is not None, f"{message.name}: not text and HTML"
    crlf = "\r\n"  # the parts as sent have CRLF line ends
    return email, text.get_content().replace(crlf, "\n"), html.get_content().replace(crlf, "\n")


def test_the_sample_has_its_referral_and_testimonial_rules_in_english_and_german(
    messages: list[SampleMessage],
) -> None:
    names = {m.name for m in messages}
    assert {"referral-request.en", "referral-request.de"} <= names
    assert {"testimonial-request.en", "testimonial-request.de"} <= names
    assert len(messages) == 17 * 2


def test_every_html_part_is_a_whole_document_titled_with_the_subject(
    messages: list[SampleMessage],
) -> None:
    for message in messages:
        _, _, html = parsed(message)
        assert html.startswith("<!DOCTYPE html>\n<html lang="), message.name
        assert '<meta charset="utf-8">' in html
        title = re.search(r"<title>(.*)</title>", html)
        assert title is not None, message.name
        assert title.group(1) == message.subject.replace("&", "&amp;"), message.name
        assert html.rstrip().endswith("</body>\n</html>"), message.name


def test_marketing_shows_the_unsubscribe_link_of_its_header_and_the_postal_address(
    messages: list[SampleMessage],
) -> None:
    marketing = [m for m in messages if m.category is Category.MARKETING]
    assert len(marketing) == 12 * 2
    for message in marketing:
        email, text, html = parsed(message)
        link = email["List-Unsubscribe"].split(",")[0].strip().strip("<>")
        assert f'<a href="{link}">' in html, message.name
        assert f"{link}\n" in text, message.name
        assert ADDRESS in html and ADDRESS in text, message.name


def test_transactional_messages_carry_no_unsubscribe_link(
    messages: list[SampleMessage],
) -> None:
    for message in messages:
        if message.category is Category.TRANSACTIONAL:
            email, text, html = parsed(message)
            assert email["List-Unsubscribe"] is None and email["List-Id"] is None
            assert "unsubscribe" not in (text + html).lower(), message.name
            assert "Abmelden" not in text + html, message.name


def test_list_id_names_the_rule_under_the_senders_domain_on_marketing_only(
    messages: list[SampleMessage],
) -> None:
    for message in messages:
        email, _, _ = parsed(message)
        if message.category is Category.MARKETING:
            assert email["List-Id"] == f"<{message.rule}.lumen.example>"


def test_auto_submitted_says_auto_replied_for_the_inquiry_answer_only(
    messages: list[SampleMessage],
) -> None:
    for message in messages:
        email, _, _ = parsed(message)
        expected = "auto-replied" if message.rule == "inquiry-acknowledgement" else "auto-generated"
        assert email["Auto-Submitted"] == expected, message.name


def test_a_german_message_is_german_in_every_part(messages: list[SampleMessage]) -> None:
    for message in messages:
        if message.locale == "de" and message.rule in GERMAN:
            _, text, html = parsed(message)
            assert '<html lang="de">' in html, message.name
            assert "Abmelden" in text + html or message.category is Category.TRANSACTIONAL
            assert "Hello" not in text + html and "Happy" not in text + html, message.name


def test_the_tests_see_the_sample_not_an_empty_copy(tmp_path: Path) -> None:
    # sample_messages refuses a project where a rule has no touchpoint to build.
    assert {m.rule for m in sample_messages(tmp_path)} >= GERMAN
