from __future__ import annotations

from pathlib import Path

import pytest

from touchflow.messages.environment import make_environment
from touchflow.messages.render import TemplateSet
from touchflow.messages.template_check import Scope, check_template
from touchflow.messages.template_files import TemplateSource

SCOPE: Scope = {
    "customer": {"first_name": None, "last_name": None, "tags": None, "email": None},
    "event": {
        "id": None,
        "at": None,
        "data": {"appointment_id": None, "service": None, "starts_at": None},
    },
    "occurrence": {"date": None, "years": None},
    "vars": {"shop_name": None},
}
PATH = "message_templates/reminder/body.txt"


def source(text: str) -> TemplateSource:
    # parse() only: compiling would already reject an unknown filter outside an `if`.
    ast = make_environment().parse(text)
    return TemplateSource(template="reminder", display_path=PATH, locale=None, part="text", ast=ast)


def check(text: str, **labels: str) -> list[str]:
    problems = check_template(
        source(text), SCOPE, used_by="appointment-reminder", labels=labels or None
    )
    return [str(p) for p in problems]


def test_clean_template_has_no_problems() -> None:
    text = (
        "Hi {{ customer.first_name | upper }} {{ customer.first_name.title() }},\n"
        "{{ event.data.starts_at | datetime('short') }} {{ occurrence.years + 1 }}\n"
        "{{ vars.shop_name }} {{ event.data['service'] }} {{ range(3) | list }}\n"
        "{% if customer.email is defined %}{{ customer.email }}{% endif %}\n"
    )
    assert check(text) == []


def test_unknown_root() -> None:
    assert check("\n{{ custmer.first_name }}") == [
        f"{PATH}:2: unknown variable custmer (used by rule appointment-reminder; available: "
        "customer, event, occurrence, vars) \N{EM DASH} did you mean customer?"
    ]


def test_unknown_customer_field_with_did_you_mean() -> None:
    assert check("{{ customer.frist_name }}") == [
        f"{PATH}:1: unknown variable customer.frist_name (used by rule appointment-reminder; "
        "customer has: email, first_name, last_name, tags) \N{EM DASH} did you mean "
        "customer.first_name?"
    ]


def test_unknown_event_data_field_with_label() -> None:
    problems = check(
        "{{ event.data.start_at | date }}", **{"event.data": "event appointment_booked declares"}
    )
    assert problems == [
        f"{PATH}:1: unknown variable event.data.start_at (used by rule appointment-reminder; "
        "event appointment_booked declares: appointment_id, service, starts_at) \N{EM DASH} "
        "did you mean event.data.starts_at?"
    ]


def test_bare_field_suggests_its_root() -> None:
    (problem,) = check("{{ first_name }}")
    assert problem.endswith("did you mean customer.first_name?")


def test_constant_subscript_is_checked() -> None:
    (problem,) = check("{{ event.data['startsat'] }}")
    assert "unknown variable event.data.startsat" in problem
    assert problem.endswith("did you mean event.data.starts_at?")


def test_computed_subscript_stops_the_check() -> None:
    assert check("{% set k = 'x' %}{{ event.data[k].anything }}{{ customer.tags[0].y }}") == []
    (problem,) = check("{{ event.data[nope] }}")
    assert "unknown variable nope" in problem


def test_leaf_allows_anything_below() -> None:
    assert check("{{ customer.first_name.upper().x }} {{ event.at.year }}") == []


def test_mapping_methods_on_structured_values() -> None:
    assert check("{% for k, v in event.data.items() %}{{ k }}={{ v }}{% endfor %}") == []


@pytest.mark.parametrize(
    "text",
    [
        "{% for t in customer.tags %}{{ t }}{{ loop.index }}{% endfor %}",
        "{% set x = 1 %}{{ x }}",
        "{% set block %}hi{% endset %}{{ block }}",
        "{% if true %}{% set x = 1 %}{% endif %}{{ x }}",  # `if` opens no scope
        "{% with y = vars.shop_name %}{{ y }}{% endwith %}",
        "{% macro m(a, b=1) %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{{ caller() }}"
        "{% endmacro %}{% call m(1) %}x{% endcall %}",
        "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{% endmacro %}",
        "{% call(u) m() %}{{ u }}{% endcall %}{% macro m() %}{% endmacro %}",
        "{% set ns = namespace(n=0) %}{% set ns.n = ns.n + 1 %}{{ ns.n }}",
        "{{ dict(a=1) }}{{ cycler('a') }}{{ joiner() }}{{ lipsum(1) }}{{ true }}{{ none }}",
        "{% for a, b in [(1, 2)] if a %}{{ a }}{{ b }}{% else %}empty{% endfor %}",
    ],
)
def test_locally_bound_names_are_not_flagged(text: str) -> None:
    assert check(text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("{% for t in customer.tags %}{% endfor %}{{ t }}", "t"),  # the loop variable is gone
        ("{{ loop.index }}", "loop"),
        ("{% with y = 1 %}{% endwith %}{{ y }}", "y"),
        ("{% macro m(a) %}{% endmacro %}{{ a }}", "a"),
        ("{% for i in customer.tags %}{% set x = 1 %}{% endfor %}{{ x }}", "x"),
        ("{{ _tf_locale }}", "_tf_locale"),
        ("{{ _tf_timezone }}", "_tf_timezone"),
    ],
)
def test_names_out_of_their_scope_are_flagged(text: str, name: str) -> None:
    (problem,) = check(text)
    assert f"unknown variable {name} " in problem


def test_reserved_names_are_never_available_even_in_the_scope() -> None:
    scope: Scope = {**SCOPE, "_tf_locale": None}
    problems = check_template(source("{{ _tf_locale }}"), scope, used_by="r")
    assert len(problems) == 1
    assert "_tf_locale" not in problems[0].message.split("available:")[1]


def test_unknown_filter_and_test() -> None:
    problems = check("{{ event.at | datee }}\n{% if event.at %}{{ 3 is evn }}{% endif %}")
    assert problems == [
        f"{PATH}:1: unknown filter datee (touchflow adds date, time, datetime, weekday, money "
        "to Jinja's built-in filters) \N{EM DASH} did you mean date?",
        f"{PATH}:2: unknown test evn \N{EM DASH} did you mean even?",
    ]


def test_one_problem_per_line_and_name() -> None:
    problems = check("{{ nope }} {{ nope.a }}\n{{ nope }}")
    assert [p.split(": ", 1)[0] for p in problems] == [f"{PATH}:1", f"{PATH}:2"]


def test_includes_are_flagged() -> None:
    (problem,) = check('{% include "footer.txt" %}')
    assert "cannot include" in problem


def test_checks_sources_of_a_loaded_template_set(tmp_path: Path) -> None:
    root = tmp_path / "message_templates"
    (root / "t" / "de").mkdir(parents=True)
    (root / "t" / "subject.txt").write_text("{{ customer.first_name }}")
    (root / "t" / "body.txt").write_text("ok")
    (root / "t" / "de" / "body.txt").write_text(
        "\n{% if x %}{{ customer.nmae | datee }}{% endif %}"
    )
    ts = TemplateSet.load(root, display_root="message_templates")
    problems = [p for s in ts.sources("t") for p in check_template(s, SCOPE, used_by="r")]
    assert [(str(p.path), p.line, p.message.split(" (")[0]) for p in problems] == [
        ("message_templates/t/de/body.txt", 2, "unknown filter datee"),
        ("message_templates/t/de/body.txt", 2, "unknown variable customer.nmae"),
        ("message_templates/t/de/body.txt", 2, "unknown variable x"),
    ]
