"""A YAML syntax error names the line of the mistake, what is wrong, and how to fix it.

PyYAML's own words ("mapping values are not allowed here") and line (often the
one after the mistake) are not what an ops person editing a rules file needs.
"""

from __future__ import annotations

import pytest

from touchflow.errors import Problem, ProblemsError
from touchflow.yamlload import load_yaml_text


def problem_of(text: str) -> Problem:
    with pytest.raises(ProblemsError) as caught:
        load_yaml_text(text, display="rules/shop.yaml")
    (problem,) = caught.value.problems
    return problem


def test_a_tab_in_the_indentation_says_to_use_spaces() -> None:
    problem = problem_of("- id: welcome\n  trigger:\n  \tevent: signed_up\n")
    assert problem.line == 3
    assert "hint: YAML does not allow tabs for indentation: use spaces" in problem.message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("- id: welcome\n  trigger: x\n extra: y\n", 3, id="indented-too-little"),
        pytest.param("a:\n    b: 1\n  c: 2\n", 3, id="between-two-levels"),
        pytest.param("a:\n  - x\n  b: 1\n", 3, id="key-after-list-items"),
    ],
)
def test_a_key_out_of_line_says_to_line_keys_up(text: str, line: int) -> None:
    problem = problem_of(text)
    assert problem.line == line
    assert "is not lined up with the lines above it" in problem.message
    assert "hint: indent the keys of one mapping" in problem.message


def test_a_key_indented_under_a_key_that_has_a_value_is_named() -> None:
    problem = problem_of("- id: welcome\n  category: marketing\n    extra: y\n")
    assert problem.line == 3
    assert "indented deeper than the line above, which already has its value" in problem.message
    assert "hint: line its key up with the keys above it" in problem.message


@pytest.mark.parametrize("quote", ['"', "'"])
def test_an_unclosed_quote_is_reported_where_it_opens(quote: str) -> None:
    problem = problem_of(f"- id: welcome\n  description: {quote}Welcome mail\n  other: 1\n")
    assert problem.line == 2
    assert "the quote that opens on this line is never closed" in problem.message
    assert "hint: end the value with the same quote on this line" in problem.message


@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ("{", "}")])
def test_an_unclosed_bracket_is_reported_where_it_opens(opener: str, closer: str) -> None:
    problem = problem_of(f"- id: welcome\n  cancel_on: {opener}a, b\n  other: 1\n")
    assert problem.line == 2
    assert f"the {opener} on this line is never closed" in problem.message
    assert "hint: close the " in problem.message and f"with {closer}" in problem.message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("- id: welcome\n  category:marketing\n  other: 1\n", id="inside-a-mapping"),
        pytest.param(
            "- id: welcome\n  category:marketing\n  trigger:\n    event: x\n", id="before-nested"
        ),
        pytest.param("id: x\ncategory:marketing\n", id="followed-by-a-key"),
    ],
)
def test_a_missing_space_after_the_colon_is_named(text: str) -> None:
    problem = problem_of(text)
    assert problem.line == 2
    assert "no space after ':' — hint: write `key: value`" in problem.message


def test_a_value_holding_colon_space_says_to_quote_it() -> None:
    problem = problem_of("- id: welcome\n  description: Welcome: the first mail\n")
    assert problem.line == 2
    assert problem.message == (
        "invalid YAML: the value 'Welcome: the first mail' holds ': ', which YAML reads "
        "as the start of another key — hint: put the value in quotes: "
        'description: "Welcome: the first mail"'
    )
