"""Reading YAML with libyaml gives what the pure-Python loader gives: values and lines.

touchflow.yamlload reads a file with libyaml when it has no anchors and is not nested
too deep, and otherwise (or on any error) with the pure-Python loader, whose checks
and words the error messages are written for. Here both read the same texts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from touchflow.errors import ProblemsError
from touchflow.yamlload import (
    MAX_YAML_DEPTH,
    LineDict,
    LineList,
    _load_fast,
    _Loader,
    load_yaml_text,
)

ROOT = Path(__file__).resolve().parents[2]
YAML_FILES = sorted(
    p
    for pattern in ("*.yaml", "rules/*.yaml", "tests/**/*.yaml", "bench/**/*.yaml")
    for p in ROOT.glob(pattern)
)


def with_lines(value: Any) -> Any:
    """The value with every line it carries, in a form == compares."""
    if isinstance(value, LineDict):
        items = {k: (value.key_lines[k], with_lines(v)) for k, v in value.items()}
        return ("map", value.line, items)
    if isinstance(value, LineList):
        return ("seq", value.line, value.item_lines, [with_lines(v) for v in value])
    return (type(value).__name__, value)


def pure(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def fast(text: str) -> Any:
    read, value = _load_fast(text)
    assert read, "libyaml did not read it"
    return value


def test_libyaml_is_there() -> None:
    assert yaml.__with_libyaml__  # else every file silently takes the slow path


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_of_the_repository_reads_the_same(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    read, value = _load_fast(text)
    if "&" not in text and not path.name.startswith(("deep", "billion")):
        assert read, path
    if read:
        assert with_lines(value) == with_lines(pure(text))


def test_the_sample_rules_are_read_by_libyaml() -> None:
    for path in sorted((ROOT / "rules").glob("*.yaml")):
        assert _load_fast(path.read_text(encoding="utf-8"))[0], path


def nested(levels: int) -> str:
    """A document whose innermost scalar sits ``levels`` nodes deep (block style)."""
    lines = [" " * (2 * i) + "k:" for i in range(levels - 1)]
    return "\n".join([*lines[:-1], lines[-1] + " v"]) + "\n"


def test_nesting_at_the_limit_reads_fast_and_one_more_level_is_refused() -> None:
    at_limit = nested(MAX_YAML_DEPTH)
    assert with_lines(fast(at_limit)) == with_lines(pure(at_limit))
    too_deep = nested(MAX_YAML_DEPTH + 1)
    assert _load_fast(too_deep) == (False, None)
    with pytest.raises(ProblemsError) as caught:
        load_yaml_text(too_deep, display="rules/deep.yaml")
    assert f"nested more than {MAX_YAML_DEPTH} levels deep" in str(caught.value)


def test_anchors_take_the_pure_loader_which_counts_what_aliases_expand_to() -> None:
    text = "a: &x [1, 2]\nb: *x\n"
    assert _load_fast(text) == (False, None)
    assert load_yaml_text(text, display="t.yaml") == {"a": [1, 2], "b": [1, 2]}


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # a duplicate key: the constructor's error
        "- a\nb: 1\n",  # a syntax error
        "a: 1\n---\nb: 2\n",  # two documents
        "a: *nowhere\n",  # an alias with no anchor
        "a: \ud800\n",  # a lone surrogate, which libyaml cannot even be given
        "a:\t1\n",  # tabs libyaml takes and the pure loader refuses: the same both ways,
        "a: [1,\t2]\n",  # whether or not the file also holds an "&"
        "a: {b:\t1}\n",
        "a: 1\t# c\n",
    ],
)
def test_an_error_is_reported_in_the_pure_loaders_words(text: str) -> None:
    assert _load_fast(text) == (False, None)
    with pytest.raises(ProblemsError) as caught:
        load_yaml_text(text, display="t.yaml")
    with pytest.raises(yaml.YAMLError) as pure_error:
        pure(text)
    assert caught.value.__cause__ is not None
    assert str(caught.value.__cause__) == str(pure_error.value)


def test_times_of_day_and_dates_stay_text_either_way() -> None:
    text = "at: 09:00\nday: 2026-12-24\nn: 0x1F\nf: .5\nyes_: yes\n"
    assert (
        fast(text)
        == pure(text)
        == {"at": "09:00", "day": "2026-12-24", "n": 31, "f": 0.5, "yes_": True}
    )


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="&")),
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(st.characters(blacklist_characters="&"), max_size=8), inner, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(documents, st.booleans(), st.sampled_from([None, '"', "'", "|"]))
def test_any_dumped_document_reads_the_same_both_ways(
    value: Any, flow: bool, style: str | None
) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow, default_style=style, allow_unicode=True)
    read, fast_value = _load_fast(text)
    if read:
        assert with_lines(fast_value) == with_lines(pure(text))
    else:
        # Fell back: nesting, an error, or text libyaml will not take that the pure loader
        # does (a key escaping a lone surrogate, "\\uDCCF"). Either way it is read, or
        # its problem named, exactly as without the fast path.
        try:
            expected: Any = pure(text)
        except yaml.YAMLError:
            with pytest.raises(ProblemsError):
                load_yaml_text(text, display="t.yaml")
        else:
            assert with_lines(load_yaml_text(text, display="t.yaml")) == with_lines(expected)


def test_a_tagged_value_the_constructor_cannot_read_is_a_problem_not_a_traceback() -> None:
    with pytest.raises(ProblemsError, match="a tagged value cannot be read") as caught:
        load_yaml_text("max_per_week: !!int 09\n", display="touchflow.yaml")
    assert "'09'" in str(caught.value)
