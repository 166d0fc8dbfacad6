"""Layouts: message files extend ``message_templates/_layouts/`` by name, in their own
locale first; a missing or looping layout is a problem at load, not at a send."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from touchflow.errors import TemplateError
from touchflow.messages.render import TemplateSet

LAYOUT = (
    "<!DOCTYPE html><title>{{ message.subject }}</title>"
    "{% block content %}{% endblock %}"
    "<footer>{% block footer %}{{ message.unsubscribe_url }}{% endblock %}</footer>\n"
)
BODY = '{% extends "base.html" %}{% block content %}<p>Hi {{ name }}</p>{% endblock %}\n'


def load(tmp_path: Path, files: dict[str, str]) -> TemplateSet:
    root = tmp_path / "message_templates"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return TemplateSet.load(root, display_root="message_templates")


def problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(TemplateError) as info:
        load(tmp_path, files)
    return [str(p) for p in info.value.problems]


def render(ts: TemplateSet, locale: str = "en", **context: Any) -> Any:
    context.setdefault("message", {"unsubscribe_url": "https://x.example/u/1"})
    return ts.render("t", locale=locale, timezone="UTC", context=context)


def files(**extra: str) -> dict[str, str]:
    return {
        "_layouts/base.html": LAYOUT,
        "t/subject.txt": "Hello & welcome",
        "t/body.txt": "Hi\n",
        "t/body.html": BODY,
        **extra,
    }


def test_a_body_extends_a_layout_that_sees_the_subject_and_the_message(tmp_path: Path) -> None:
    html = render(load(tmp_path, files()), name="<Ada>").html
    assert html == (
        "<!DOCTYPE html><title>Hello &amp; welcome</title><p>Hi &lt;Ada&gt;</p>"
        "<footer>https://x.example/u/1</footer>\n"
    )


def test_a_german_file_extends_the_german_layout_an_english_one_the_root(tmp_path: Path) -> None:
    german = LAYOUT.replace("<footer>", "<footer>de:")
    ts = load(tmp_path, files(**{"_layouts/de/base.html": german, "t/de/body.html": BODY}))
    assert "<footer>de:" in render(ts, "de_AT", name="A").html
    assert "<footer>https" in render(ts, "en", name="A").html
    # A German customer reading the English root file gets the English layout with it.
    ts_root_only = load(tmp_path / "2", files(**{"_layouts/de/base.html": german}))
    assert "<footer>https" in render(ts_root_only, "de", name="A").html


def test_a_layout_may_extend_a_layout(tmp_path: Path) -> None:
    outer = "<html>{% block page %}{% endblock %}</html>\n"
    inner = '{% extends "outer.html" %}{% block page %}' + LAYOUT + "{% endblock %}"
    ts = load(tmp_path, files(**{"_layouts/outer.html": outer, "_layouts/base.html": inner}))
    assert render(ts, name="A").html.startswith("<html><!DOCTYPE html>")
    assert [s.display_path for s in ts.layouts("t")] == [
        "message_templates/_layouts/base.html",
        "message_templates/_layouts/outer.html",
    ]


def test_a_block_can_keep_the_layouts_footer_with_super(tmp_path: Path) -> None:
    footer = "{% block footer %}PS {{ super() }}{% endblock %}"
    body = BODY.replace("{% endblock %}\n", "{% endblock %}" + footer)
    html = render(load(tmp_path, files(**{"t/body.html": body})), name="A").html
    assert "<footer>PS https://x.example/u/1</footer>" in html


def test_an_unknown_layout_is_a_problem_at_its_line(tmp_path: Path) -> None:
    body = 'Hi\n{% extends "bsae.html" %}\n'
    assert problems(tmp_path, files(**{"t/body.txt": body})) == [
        "message_templates/t/body.txt:2: no layout 'bsae.html' in message_templates/_layouts/ "
        "(layouts: base.html) \N{EM DASH} did you mean base.html?"
    ]


def test_extends_needs_a_name_in_quotes(tmp_path: Path) -> None:
    body = "{% extends customer.layout %}\n"
    (problem,) = problems(tmp_path, files(**{"t/body.txt": body}))
    assert problem.startswith("message_templates/t/body.txt:1: extends needs a layout name")


def test_a_layout_that_extends_itself_is_a_problem(tmp_path: Path) -> None:
    loop = '{% extends "base.html" %}'
    assert problems(tmp_path, files(**{"_layouts/base.html": loop})) == [
        "message_templates/_layouts/base.html: this layout extends itself: "
        "message_templates/_layouts/base.html → message_templates/_layouts/base.html"
    ]


def test_layout_files_are_checked_like_templates(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        files(
            **{
                "_layouts/base.html": "{% block content %}{% endblock %}{{ }}\n",
                "_layouts/notes.md": "x",
                "_layouts/partials/base.html": "x",
            }
        ),
    )
    assert found[0].startswith("message_templates/_layouts/base.html:1: ")
    assert "message_templates/_layouts/notes.md: unknown entry: _layouts/ holds layouts" in found[1]
    assert found[2].startswith("message_templates/_layouts/partials: unknown entry")
    # The layout that did not load is not there to extend.
    assert found[3] == (
        "message_templates/t/body.html:1: no layout 'base.html' in message_templates/_layouts/ "
        "(layouts: none yet)"
    )


def test_names_starting_with_an_underscore_are_not_templates(tmp_path: Path) -> None:
    assert problems(tmp_path, files(**{"_footer/subject.txt": "s", "_footer/body.txt": "b"})) == [
        "message_templates/_footer: invalid template name '_footer': names starting with _ "
        "are reserved (_layouts/ holds layouts)"
    ]
    assert load(tmp_path / "2", files()).names() == {"t"}
