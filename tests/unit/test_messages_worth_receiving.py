"""What makes a message worth receiving, pinned where it is decided: the postal address
and the Auto-Submitted setting are read and checked; List-Id and Auto-Submitted are in the
composed bytes; validate warns about a marketing part without its unsubscribe link, a
missing postal address and a message in two languages."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import config_problems, load_config, project, the_problem

from touchflow.cli.scaffold import scaffold
from touchflow.messages.compose import ComposeError, compose, list_id_for
from touchflow.messages.render import RenderedMessage
from touchflow.project import load_project_checked, project_warnings

RENDERED = RenderedMessage(subject="Sale", text="Sale!\n", html=None, locale="en")


def composed(**extra: str | None) -> bytes:
    return compose(
        rendered=RENDERED,
        key="monthly-sale:c-1:2027-01-01:0",
        from_addr="Lumen Studio <hello@Lumen.example>",
        to_addr="ann@example.com",
        reply_to=None,
        date=datetime(2027, 1, 1, 9, tzinfo=UTC),
        domain="lumen.example",
        **extra,  # type: ignore[arg-type]
    ).data


# --- headers ------------------------------------------------------------------------


def test_list_id_and_auto_submitted_are_in_the_composed_bytes() -> None:
    data = composed(list_id=list_id_for("monthly-sale", "Lumen Studio <hello@Lumen.example>"),
                    auto_submitted="auto-generated")  # fmt: skip
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nList-Id: <monthly-sale.lumen.example>\r\n" in head
    assert b"\r\nAuto-Submitted: auto-generated\r\n" in head


def test_without_them_neither_header_is_written() -> None:
    head = composed().split(b"\r\n\r\n", 1)[0]
    assert b"List-Id" not in head and b"Auto-Submitted" not in head


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"list_id": "no-dot"}, "List-Id: 'no-dot' is not a list id"),
        ({"list_id": "a b.example"}, "is not a list id"),
        ({"auto_submitted": "auto-notified"}, "Auto-Submitted: 'auto-notified' is not one of"),
    ],
)
def test_a_bad_list_id_or_auto_submitted_value_is_refused(
    extra: dict[str, str], words: str
) -> None:
    with pytest.raises(ComposeError, match=words):
        composed(**extra)


def test_an_extra_header_cannot_double_them() -> None:
    with pytest.raises(ComposeError, match="would replace one touchflow sets itself"):
        composed(extra_headers={"List-Id": "<x.example>"})  # type: ignore[arg-type]


# --- settings -----------------------------------------------------------------------


def test_the_postal_address_is_one_line_or_a_list_of_lines(tmp_path: Path) -> None:
    one = load_config(tmp_path / "a", 'email: {postal_address: " 1 Main St, Springfield "}\n')
    assert one.email.postal_address == "1 Main St, Springfield"
    lines = "email:\n  postal_address:\n    - 1 Main St\n    - Springfield, IL 62701\n"
    assert load_config(tmp_path / "b", lines).email.postal_address == (
        "1 Main St, Springfield, IL 62701"
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('""', "email.postal_address is empty"),
        ("[1, 2]", "email.postal_address must be text or a list of text"),
        ('"' + "x" * 301 + '"', "must be printable text of at most 300"),
        ('"1 Main St\\u0007"', "must be printable text"),
    ],
)
def test_a_bad_postal_address_is_reported_at_its_line(
    tmp_path: Path, value: str, words: str
) -> None:
    where, message = the_problem(
        config_problems(tmp_path, f"name: x\nemail:\n  postal_address: {value}\n")
    )
    assert where == "touchflow.yaml:3"
    assert words in message


RULE = """\
- id: inquiry-ack
  category: transactional
  trigger: {{event: inquiry_received}}
  auto_submitted: {value}
  action: {{template: t}}
"""


def test_a_rule_says_auto_replied_or_auto_generated(tmp_path: Path) -> None:
    _, rules = project(tmp_path / "a", RULE.format(value="auto-replied"))
    assert rules[0].auto_submitted == "auto-replied"
    _, rules = project(tmp_path / "b", RULE.format(value="auto-replied").replace(
        "  auto_submitted: auto-replied\n", ""))  # fmt: skip
    assert rules[0].auto_submitted == "auto-generated"


def test_another_auto_submitted_value_is_a_problem_at_its_line(tmp_path: Path) -> None:
    from touchflow.errors import ProblemsError

    with pytest.raises(ProblemsError) as caught:
        project(tmp_path, RULE.format(value="yes"))
    (problem,) = caught.value.problems
    assert (problem.line, problem.message) == (
        4,
        "auto_submitted: must be auto-generated or auto-replied, not True",
    )


# --- validate's warnings ------------------------------------------------------------

MARKETING = """\
- id: sale
  category: marketing
  trigger: {cron: "0 10 1 * *"}
  action: {template: sale}
"""


def warnings(tmp_path: Path, files: dict[str, str], config: str = "") -> list[str]:
    (tmp_path / "rules").mkdir(parents=True)
    (tmp_path / "rules" / "r.yaml").write_text(MARKETING, encoding="utf-8")
    default = 'email: {postal_address: "1 Main St"}\n'
    (tmp_path / "touchflow.yaml").write_text(config or default, encoding="utf-8")
    for name, text in files.items():
        path = tmp_path / "message_templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return [str(w) for w in project_warnings(load_project_checked(tmp_path))]


LAYOUT = (
    "{% block content %}{% endblock %}\n"
    "{% block footer %}{{ message.unsubscribe_url }}{% endblock %}\n"
)


def test_a_marketing_part_without_the_link_is_warned_about_at_its_last_line(
    tmp_path: Path,
) -> None:
    found = warnings(
        tmp_path,
        {
            "sale/subject.txt": "Sale",
            "sale/body.txt": "Sale!\n\n{{ message.unsubscribe_url }}\n",
            "sale/body.html": "<p>Sale!</p>\n<p>Come by.</p>\n",
        },
    )
    assert found == [
        "message_templates/sale/body.html:2: warning: template 'sale' is sent as marketing, "
        "but this part shows no unsubscribe link: print {{ message.unsubscribe_url }} in it "
        '(or extend a layout that does, e.g. {% extends "base.html" %})'
    ]


def test_a_layout_with_the_link_counts_unless_its_block_is_overridden(tmp_path: Path) -> None:
    body = '{% extends "base.txt" %}{% block content %}Sale{% endblock %}\n'
    files = {"_layouts/base.txt": LAYOUT, "sale/subject.txt": "Sale", "sale/body.txt": body}
    assert warnings(tmp_path / "a", files) == []
    kept = body + "{% block footer %}PS {{ super() }}{% endblock %}"
    assert warnings(tmp_path / "b", {**files, "sale/body.txt": kept}) == []
    hidden = body + "{% block footer %}PS{% endblock %}"
    (warning,) = warnings(tmp_path / "c", {**files, "sale/body.txt": hidden})
    assert warning.startswith("message_templates/sale/body.txt:2: warning: template 'sale'")


def test_no_postal_address_with_marketing_rules_is_warned_about(tmp_path: Path) -> None:
    files = {"sale/subject.txt": "Sale", "sale/body.txt": "{{ message.unsubscribe_url }}"}
    assert warnings(tmp_path, files, config="name: x\n") == [
        "touchflow.yaml: warning: marketing rules send, but email.postal_address is not set: "
        "marketing mail should show the business's postal address (CAN-SPAM)"
    ]


def test_a_message_in_two_languages_is_warned_about_with_its_files(tmp_path: Path) -> None:
    link = "{{ message.unsubscribe_url }}"
    files = {
        "sale/subject.txt": "Sale",
        "sale/body.txt": link,
        "sale/body.html": link,
        "sale/de/subject.txt": "Ausverkauf",
        "sale/de/body.txt": link,
        "sale/de_AT/subject.txt": "Abverkauf",  # the same language: fine
    }
    found = warnings(tmp_path, files)
    assert found == [
        "message_templates/sale/de: warning: a customer in de gets one message in more than "
        "one language: message_templates/sale/de/subject.txt (de), "
        "message_templates/sale/de/body.txt (de), message_templates/sale/body.html (en); "
        "translate the missing files into de/",
        "message_templates/sale/de_AT: warning: a customer in de_AT gets one message in more "
        "than one language: message_templates/sale/de_AT/subject.txt (de), "
        "message_templates/sale/de/body.txt (de), message_templates/sale/body.html (en); "
        "translate the missing files into de_AT/",
    ]
    files["sale/de/body.html"] = link
    assert warnings(tmp_path / "fixed", files) == []


def test_a_german_body_on_an_english_layout_is_two_languages(tmp_path: Path) -> None:
    body = '{% extends "base.txt" %}{% block content %}Hallo{% endblock %}'
    files = {
        "_layouts/base.txt": LAYOUT,
        "sale/subject.txt": "Sale",
        "sale/body.txt": body.replace("Hallo", "Hello"),
        "sale/de/subject.txt": "Ausverkauf",
        "sale/de/body.txt": body,
    }
    (warning,) = warnings(tmp_path, files)
    assert "message_templates/_layouts/base.txt (en)" in warning
    files["_layouts/de/base.txt"] = LAYOUT
    assert warnings(tmp_path / "fixed", files) == []


def test_the_sample_and_a_new_project_validate_without_warnings(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2]
    assert project_warnings(load_project_checked(sample)) == []
    scaffold(tmp_path / "new")
    assert project_warnings(load_project_checked(tmp_path / "new")) == []


def test_touchflow_init_starts_from_the_samples_layouts(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "message_templates" / "_layouts"
    scaffold(tmp_path)
    for name in ("base.html", "base.txt"):
        made = tmp_path / "message_templates" / "_layouts" / name
        assert made.read_text("utf-8") == (sample / name).read_text("utf-8")
    for part in ("body.txt", "body.html"):
        text = (tmp_path / "message_templates" / "thank_you" / part).read_text("utf-8")
        assert text.startswith('{% extends "base.')


def test_a_list_id_is_written_in_ascii_or_not_at_all() -> None:
    assert list_id_for("sale", "Shop <hi@bücher.example>") == "sale.xn--bcher-kva.example"
    assert list_id_for("sale", "Shop <hi@shop.example>") == "sale.shop.example"
