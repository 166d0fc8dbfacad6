from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from touchflow.errors import RenderError, TemplateError
from touchflow.messages.locales import locale_candidates, normalize_locale
from touchflow.messages.render import MAX_PART_BYTES, TemplateSet

AT = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)  # 16:30 in Berlin (CEST)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def load(tmp_path: Path, files: dict[str, str]) -> TemplateSet:
    root = write(tmp_path / "message_templates", files)
    return TemplateSet.load(root, display_root="message_templates")


def load_problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(TemplateError) as info:
        load(tmp_path, files)
    return [str(p) for p in info.value.problems]


def render(ts: TemplateSet, locale: str | None = None, **context: Any) -> Any:
    return ts.render("t", locale=locale, timezone="Europe/Berlin", context=context)


def one(tmp_path: Path, body: str, html: str | None = None) -> TemplateSet:
    # The same body as a German variant too: dates follow the language a file is written in.
    files = {"t/subject.txt": "s", "t/body.txt": body, "t/de/body.txt": body}
    if html is not None:
        files["t/body.html"] = html
    return load(tmp_path, files)


# --- layout and locale fallback ---------------------------------------------------


def test_locale_fallback_is_per_file(tmp_path: Path) -> None:
    ts = load(
        tmp_path,
        {
            "t/subject.txt": "Hello",
            "t/body.txt": "root body\n",
            "t/body.html": "<p>root</p>\n",
            "t/de/subject.txt": "Hallo",
            "t/de/body.txt": "de body\n",
            "t/de_AT/body.txt": "at body\n",
        },
    )
    at = render(ts, "de_AT")
    assert (at.subject, at.text, at.html) == ("Hallo", "at body\n", "<p>root</p>\n")
    assert render(ts, "de-at").text == "at body\n"
    de = render(ts, "de_DE")
    assert (de.subject, de.text) == ("Hallo", "de body\n")
    assert (render(ts, "fr").subject, render(ts, None).subject) == ("Hello", "Hello")


def test_rendered_locale_is_what_formatting_used(tmp_path: Path) -> None:
    ts = one(tmp_path, "x")
    assert render(ts, "de-at").locale == "de_AT"
    assert render(ts, "xx_YY").locale == "en"
    assert render(ts, None).locale == "en"


def test_locale_helpers() -> None:
    assert normalize_locale("de-at") == "de_AT"
    assert normalize_locale("zh-hant-tw") == "zh_Hant_TW"
    assert locale_candidates("de-AT") == ["de_AT", "de"]
    assert locale_candidates(None) == []


def test_subject_is_collapsed_to_one_line(tmp_path: Path) -> None:
    ts = load(tmp_path, {"t/subject.txt": "  Hi\n  {{ name }}\n\n", "t/body.txt": "b"})
    assert render(ts, name="Ann").subject == "Hi Ann"


def test_sources_lists_every_file(tmp_path: Path) -> None:
    ts = load(
        tmp_path, {"t/subject.txt": "s", "t/body.txt": "b", "t/de/body.html": "<p>{{ x }}</p>"}
    )
    got = [(s.display_path, s.locale, s.part) for s in ts.sources("t")]
    assert got == [
        ("message_templates/t/subject.txt", None, "subject"),
        ("message_templates/t/body.txt", None, "text"),
        ("message_templates/t/de/body.html", "de", "html"),
    ]
    assert ts.names() == frozenset({"t"}) and ts.has("t") and not ts.has("u")


def test_every_load_problem_is_reported(tmp_path: Path) -> None:
    problems = load_problems(
        tmp_path,
        {
            "ok/subject.txt": "s",
            "ok/body.txt": "line 1\n{% if x %}\nline 3\n",
            "ok/body.htm": "<p></p>",
            "ok/de-AT/subject.txt": "s",
            "nobody/subject.txt": "s",
            "Bad Name/subject.txt": "s",
        },
    )
    # Jinja lists the tags it expected in no stable order: compare up to that.
    problems = [p.split(" Jinja was looking")[0] for p in problems]
    assert problems == [
        "message_templates/Bad Name: invalid template name 'Bad Name': "
        "use lower-case letters, digits, '_' and '-'",
        "message_templates/nobody: missing body.txt: an email needs subject.txt and body.txt",
        "message_templates/ok/body.htm: unknown file 'body.htm': a template holds subject.txt "
        "and body.txt (optionally body.html) for email, sms.txt for texts, "
        "webhook.json.j2 for a webhook's fields \N{EM DASH} did you mean body.html?",
        "message_templates/ok/body.txt:3: Unexpected end of template.",
        "message_templates/ok/de-AT: unknown directory: name locale variants like de or de_AT "
        "\N{EM DASH} did you mean de_AT?",
    ]


def test_syntax_error_line_and_unknown_filter_hint(tmp_path: Path) -> None:
    problems = load_problems(
        tmp_path, {"t/subject.txt": "s", "t/body.txt": "a\nb\n{{ x | datee }}\n"}
    )
    assert problems == [
        "message_templates/t/body.txt:3: unknown filter datee \N{EM DASH} did you mean date?"
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            "{% block a %}{% endblock %}\n{% block a %}{% endblock %}\n",
            "2: block 'a' defined twice",
            id="block-twice",
        ),
        pytest.param(
            "{% for i in x %}\n{% extends 'base' %}{% endfor %}\n",
            "2: cannot use extend from a non top-level scope",
            id="extends-inside-for",
        ),
        pytest.param(
            "{% for loop in [1] %}{% endfor %}\n",
            "1: Can't assign to special loop variable in for-loop target",
            id="loop-variable",
        ),
    ],
)
def test_what_only_jinjas_code_generator_finds_is_found_at_load(
    tmp_path: Path, body: str, message: str
) -> None:
    # Compiling waits for the first render; these errors must not wait with it.
    problems = load_problems(tmp_path, {"t/subject.txt": "s", "t/body.txt": body})
    assert problems == [f"message_templates/t/body.txt:{message}"]


def test_a_template_is_compiled_at_its_first_render_only(tmp_path: Path) -> None:
    ts = load(
        tmp_path,
        {
            "t/subject.txt": "Hi {{ 1 + 2 }}",
            "t/body.txt": "b",
            "u/subject.txt": "u",
            "u/body.txt": "u",
        },
    )
    files = {source.display_path: source for name in ("t", "u") for source in ts.sources(name)}
    before = {path: source.ast.dump() for path, source in files.items()}
    lazies = [file.code for f in ts._files.values() for file in f.values()]
    assert all(lazy._template is None for lazy in lazies)
    assert render(ts).subject == "Hi 3"
    compiled = {lazy._name for lazy in lazies if lazy._template is not None}
    assert compiled == {"message_templates/t/subject.txt", "message_templates/t/body.txt"}
    # The syntax trees the checker and previews read are as parsed: checking the
    # generated code did not fold ``1 + 2`` into them.
    assert {path: source.ast.dump() for path, source in files.items()} == before
    assert "Add(" in before["message_templates/t/subject.txt"]


def test_missing_root_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="template directory not found"):
        TemplateSet.load(tmp_path / "nope", display_root="message_templates")


def test_dotfiles_are_ignored(tmp_path: Path) -> None:
    ts = load(tmp_path, {"t/subject.txt": "s", "t/body.txt": "b", "t/.body.txt.swp": "x"})
    assert ts.names() == frozenset({"t"})


# --- safety -----------------------------------------------------------------------


def test_missing_variable_names_file_and_line(tmp_path: Path) -> None:
    ts = one(tmp_path, "Hello\n{% if true %}\n  {{ customer.frist_name }}\n{% endif %}\n")
    with pytest.raises(RenderError) as info:
        render(ts, customer={"first_name": "Ann"})
    err = info.value
    assert (err.path, err.line, err.template) == ("message_templates/t/body.txt", 3, "t")
    assert str(err) == (
        "message_templates/t/body.txt:3: undefined value: "
        "'dict object' has no attribute 'frist_name'"
    )


def test_missing_variable_inside_macro_reports_the_macro_line(tmp_path: Path) -> None:
    ts = one(tmp_path, "{% macro m(a) %}\n{{ a.x }}\n{% endmacro %}\n\n{{ m({}) }}\n")
    with pytest.raises(RenderError) as info:
        render(ts)
    assert info.value.line == 2


def test_autoescape_only_in_html(tmp_path: Path) -> None:
    ts = one(tmp_path, "{{ name }}\n", html="<p>{{ name }}</p>\n")
    message = render(ts, name="<b>Ann</b>")
    assert message.text == "<b>Ann</b>\n"
    assert message.html == "<p>&lt;b&gt;Ann&lt;/b&gt;</p>\n"


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ '{0.__class__}'.format(name) }}",
        "{% set _ = items.append(1) %}",  # the context is immutable
    ],
)
def test_sandbox_blocks_unsafe_access(tmp_path: Path, body: str) -> None:
    ts = one(tmp_path, "line 1\n" + body)
    with pytest.raises(RenderError) as info:
        render(ts, name="x", items=[])
    assert info.value.line == 2
    assert "not allowed" in str(info.value) or "unsafe" in str(info.value)


def test_other_errors_become_render_errors(tmp_path: Path) -> None:
    ts = one(tmp_path, "{{ 1 / n }}")
    with pytest.raises(RenderError, match=r"body.txt:1: ZeroDivisionError"):
        render(ts, n=0)


def test_output_cap(tmp_path: Path) -> None:
    ts = one(tmp_path, "{% for i in range(n) %}{{ chunk }}{% endfor %}")
    chunk = "x" * 1024
    assert len(render(ts, n=256, chunk=chunk).text) == MAX_PART_BYTES
    with pytest.raises(RenderError, match="output exceeds 256 KiB"):
        render(ts, n=257, chunk=chunk)


def test_output_cap_counts_utf8_bytes(tmp_path: Path) -> None:
    ts = one(tmp_path, "{% for i in range(n) %}{{ chunk }}{% endfor %}")
    with pytest.raises(RenderError, match="output exceeds"):
        render(ts, n=129, chunk="ü" * 1024)  # 129 KiB of characters, 258 KiB of UTF-8


def test_subject_too_long(tmp_path: Path) -> None:
    ts = load(tmp_path, {"t/subject.txt": "{{ 'x' * 999 }}", "t/body.txt": "b"})
    with pytest.raises(RenderError, match="subject is 999 characters"):
        render(ts)


def test_reserved_context_names_cannot_be_overridden(tmp_path: Path) -> None:
    ts = one(tmp_path, "{{ at | time }}")
    assert render(ts, "de", at=AT, _tf_timezone="UTC", _tf_locale="en").text == "16:30"


def test_unknown_template_and_zone(tmp_path: Path) -> None:
    ts = one(tmp_path, "b")
    with pytest.raises(RenderError, match="unknown template"):
        ts.render("nope", locale=None, timezone="UTC", context={})
    with pytest.raises(RenderError, match="unknown time zone"):
        ts.render("t", locale=None, timezone="Mars/Olympus", context={})


# --- filters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("de", "01.05.2024, 16:30:00|16:30|01.05.2024|Mittwoch, 1. Mai 2024|Mittwoch"),
        (
            "en",
            "May 1, 2024, 4:30:00\u202fPM|4:30\u202fPM|May 1, 2024|Wednesday, May 1, 2024|"
            "Wednesday",
        ),
    ],
)
def test_date_filters_use_customer_zone_and_locale(
    tmp_path: Path, locale: str, expected: str
) -> None:
    ts = one(
        tmp_path,
        "{{ at | datetime }}|{{ at | time }}|{{ at | date }}|"
        "{{ at | date('full') }}|{{ at | weekday }}",
    )
    assert render(ts, locale, at=AT).text == expected


def test_date_filter_takes_the_local_day(tmp_path: Path) -> None:
    ts = one(tmp_path, "{{ at | date('yyyy-MM-dd') }} {{ at | weekday }}")
    late = datetime(2024, 4, 30, 23, 30, tzinfo=UTC)  # already May 1 in Berlin
    assert render(ts, "en", at=late).text == "2024-05-01 Wednesday"


def test_date_filters_parse_iso_strings(tmp_path: Path) -> None:
    ts = one(tmp_path, "{{ a | time('HH:mm') }} {{ d | date('short') }} {{ d | weekday }}")
    text = render(ts, "de", a="2024-05-01T14:30:00Z", d="2024-12-24").text
    assert text == "16:30 24.12.24 Dienstag"
    assert render(ts, "de", a=AT, d=date(2024, 12, 24)).text == text


@pytest.mark.parametrize(
    ("body", "value", "message"),
    [
        ("{{ v | datetime }}", "2024-05-01T14:30:00", "has no UTC offset"),
        ("{{ v | time }}", datetime(2024, 5, 1, 14, 30), "has no UTC offset"),
        ("{{ v | time }}", "2024-05-01", "needs a date and time"),
        ("{{ v | date }}", "tomorrow", "not an ISO 8601"),
        ("{{ v | date }}", 17, "not int"),
        ("{{ v | date }}", None, "not NoneType"),
        ("{{ missing | date }}", None, "'missing' is undefined"),
        ("{{ v | money('EUR') }}", "abc", "is not a number"),
        ("{{ v | money('euro') }}", 1, "currency must be a code"),
    ],
)
def test_filter_errors_are_render_errors_with_line(
    tmp_path: Path, body: str, value: object, message: str
) -> None:
    ts = one(tmp_path, "\n" + body)
    with pytest.raises(RenderError, match=message) as info:
        render(ts, "de", v=value)
    assert info.value.line == 2


def test_money(tmp_path: Path) -> None:
    ts = one(tmp_path, "{{ v | money('EUR') }}")
    assert render(ts, "de", v=12.5).text == "12,50\xa0€"
    assert render(ts, "en", v="1234.5").text == "€1,234.50"


def test_unknown_babel_locale_falls_back_to_english(tmp_path: Path) -> None:
    ts = one(tmp_path, "{{ at | weekday }}")
    assert render(ts, "xx", at=AT).text == "Wednesday"


def test_dates_follow_the_language_of_the_file_used_and_keep_the_customers_region(
    tmp_path: Path,
) -> None:
    ts = load(tmp_path, {"t/subject.txt": "s", "t/body.txt": "{{ d | date('medium') }}"})
    # A French customer reading the English fallback gets English dates, not "1 mai 2024".
    assert render(ts, "fr", d=date(2024, 5, 1)).text == "May 1, 2024"
    # Same language, other region: the customer's region decides the format.
    assert render(ts, "en_GB", d=date(2024, 5, 1)).text == "1 May 2024"


def test_an_empty_value_is_an_error_not_the_word_none(tmp_path: Path) -> None:
    ts = one(tmp_path, "Hello {{ name }},\n")
    with pytest.raises(RenderError, match=r"t/body.txt:1: .*empty.*or 'there'"):
        render(ts, name=None)
    fallback = one(tmp_path / "b", "Hello {{ name or 'there' }},\n")
    assert render(fallback, name=None).text == "Hello there,\n"


def test_a_chain_of_filters_python_could_not_compile_is_a_problem_at_load(
    tmp_path: Path,
) -> None:
    # Valid Jinja; as Python, calls nested ~200 deep, which its compiler refuses. Templates
    # are compiled at their first render: this must not wait for a send to be found.
    long_chain = "{{ first_name" + "|lower" * 260 + " }}\n"
    problems = load_problems(tmp_path, {"t/subject.txt": "s", "t/body.txt": "x\n" + long_chain})
    assert problems == [
        "message_templates/t/body.txt:2: expressions nested too deeply (brackets or operators "
        "hundreds of levels deep): write them out in steps with {% set %}"
    ]
    fine = "{{ first_name" + "|lower" * 100 + " }}"
    assert render(load(tmp_path / "ok", {"t/subject.txt": "s", "t/body.txt": fine}),
                  first_name="ANA").text == "ana"  # fmt: skip
