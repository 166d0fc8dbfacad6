"""Templates and conditions cannot run away: size caps, a time limit, YAML bounds."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from touchflow import bounds, watchdog
from touchflow.errors import ProblemsError, RenderError, TemplateError, shown
from touchflow.messages.render import TemplateSet
from touchflow.rules.expressions import ConditionError, compile_condition, evaluate
from touchflow.yamlload import MAX_YAML_BYTES, load_yaml, load_yaml_text

LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


@pytest.fixture
def short_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # The limit is read when a render starts: 0.3 s keeps these tests fast.
    monkeypatch.setattr(bounds, "RENDER_SECONDS", 0.3)


def templates(tmp_path: Path, body: str) -> TemplateSet:
    root = tmp_path / "message_templates"
    (root / "t").mkdir(parents=True)
    (root / "t" / "subject.txt").write_text("s", encoding="utf-8")
    (root / "t" / "body.txt").write_text(body, encoding="utf-8")
    return TemplateSet.load(root, display_root="message_templates")


def test_a_render_that_runs_too_long_is_stopped_at_its_line(
    tmp_path: Path, short_limit: None
) -> None:
    ts = templates(tmp_path, "Hello\n" + LOOPS + "\n")
    with pytest.raises(RenderError) as info:
        ts.render("t", locale=None, timezone="UTC", context={})
    assert str(info.value).startswith("message_templates/t/body.txt:2: stopped: rendering took")
    # The thread goes on as before: nothing raised later, the next render is fine.
    assert templates(tmp_path / "2", "ok").render("t", locale=None, timezone="UTC", context={})


def test_the_time_limit_stops_only_the_render_that_overran(short_limit: None) -> None:
    errors: list[BaseException] = []

    def quick() -> None:
        try:
            for _ in range(2000):
                with bounds.time_limit():
                    sum(range(100))
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    other = threading.Thread(target=quick)
    other.start()
    with pytest.raises(bounds.RenderTimeout), bounds.time_limit():
        while True:
            pass
    other.join()
    assert errors == []


def test_a_render_after_the_watchdog_fell_asleep_is_still_stopped(
    short_limit: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watchdog sleeps once no render came for a while; the next one must wake it.
    monkeypatch.setattr(watchdog, "_IDLE_TICKS", 0)
    with bounds.time_limit():
        pass
    time.sleep(3 * watchdog._TICK)  # long enough to fall asleep
    started = time.monotonic()
    with pytest.raises(bounds.RenderTimeout), bounds.time_limit():
        while time.monotonic() - started < 5:  # no hang should the watchdog stay asleep
            pass
    assert time.monotonic() - started < 2


def test_a_timeout_never_lands_outside_the_block_it_was_raised_for(short_limit: None) -> None:
    # Blocks past their deadline at once, thousands of them: the exception may land
    # inside the block or in its clean-up (the `with` raises it), never later, and the
    # watchdog's lock is never left held (a later block is still stopped).
    stray: list[BaseException] = []

    def blocks() -> None:
        for _ in range(3000):
            try:
                with bounds.time_limit(0.0):
                    sum(range(200))
            except bounds.RenderTimeout:
                pass
        try:
            end = time.monotonic() + 3 * watchdog._TICK
            while time.monotonic() < end:
                pass
        except bounds.RenderTimeout as exc:  # pragma: no cover - the failure tested for
            stray.append(exc)

    threads = [threading.Thread(target=blocks) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads) and stray == []
    started = time.monotonic()
    with pytest.raises(bounds.RenderTimeout), bounds.time_limit():
        while time.monotonic() - started < 5:
            pass


def test_a_condition_that_runs_too_long_is_a_condition_error(short_limit: None) -> None:
    # Each of 100,000 items looked up in a list of 100,000: minutes, unless stopped.
    strings = "range(customer.n) | map('string')"
    compiled = compile_condition(f"{strings} | select('in', {strings} | list) | list")
    with pytest.raises(ConditionError, match="stopped: the condition took longer than"):
        evaluate(compiled, {"customer": {"n": 100000}})


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("customer.name * 10**9", "length of a repeated string or list would be"),
        ("customer.name.center(10**9)", "width for center()"),
        ("'%0999999999d' % customer.age", "width or precision in a % format"),
        ("customer.age ** 99999999", "size of a power in bits"),
    ],
)
def test_conditions_have_the_templates_size_caps(source: str, words: str) -> None:
    with pytest.raises(ConditionError, match=words):
        evaluate(compile_condition(source + " == 1"), {"customer": {"name": "x", "age": 7}})


def test_validate_computes_constant_expressions_under_the_caps(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        templates(
            tmp_path, "Hi\n{{ 'x' | center(1000000000) }}\n{{ range(100000) | list | length }}"
        )
    assert [str(p) for p in info.value.problems] == [
        "message_templates/t/body.txt:2: too large: the width for center would be "
        "1,000,000,000; at most 10,000 is allowed"
    ]


def test_a_condition_made_of_constants_is_checked_when_read() -> None:
    with pytest.raises(ConditionError, match="too large: the length of a repeated"):
        compile_condition("'x' * 10**9 == ''")


def test_ordinary_templates_still_work(tmp_path: Path) -> None:
    body = "{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ '%05d' | format(42) }} {{ 'x' | center(5) }}|"
    body += "{{ '{:>6}'.format('r') }} {{ [1, 2] ~ 'z' }} {{ 'a-b' | replace('-', '+') }}"
    rendered = templates(tmp_path, body).render("t", locale=None, timezone="UTC", context={})
    assert rendered.text == "ababab 1024 00042   x  |     r [1, 2]z a+b"


def test_a_rules_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * MAX_YAML_BYTES + "\n", encoding="utf-8")
    with pytest.raises(ProblemsError) as info:
        load_yaml(path, display="rules/big.yaml")
    assert str(info.value) == (
        "rules/big.yaml: too large: 1,048,579 bytes "
        "(at most 1,048,576 bytes; split it into several files)"
    )


def test_aliases_that_expand_too_far_are_refused_at_their_line() -> None:
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
    for n, name in enumerate("bcdef"):
        previous = "abcdef"[n]
        text += f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
    with pytest.raises(ProblemsError) as info:
        load_yaml_text(text, display="rules/laughs.yaml")
    assert str(info.value).startswith(
        "rules/laughs.yaml:5: invalid YAML: aliases expand to more than 100,000 values"
    )


def test_a_few_aliases_are_fine() -> None:
    loaded = load_yaml_text("x: &p {a: 1}\ny: *p\nz: [*p, *p]\n", display="r.yaml")
    assert loaded == {"x": {"a": 1}, "y": {"a": 1}, "z": [{"a": 1}, {"a": 1}]}


def test_messages_quote_values_cut_short() -> None:
    nested: list[object] = ["lol"] * 9
    for _ in range(5):
        nested = [nested] * 9
    assert len(shown(nested)) <= 120
    assert shown("x" * 10_000).startswith("'xxx") and len(shown("x" * 10_000)) <= 120
    assert shown("09:00") == "'09:00'"


def test_a_template_nested_too_deeply_is_a_problem_at_load_not_a_crash(tmp_path: Path) -> None:
    for name, body in (("brackets", "(" * 2000 + "1" + ")" * 2000), ("unary", "-" * 3000 + "1")):
        with pytest.raises(ProblemsError) as info:
            templates(tmp_path / name, "{{ " + body + " }}")
        assert "nested too deeply" in str(info.value.problems[0])


def test_a_condition_nested_too_deeply_is_a_condition_error() -> None:
    with pytest.raises(ConditionError, match="nested too deeply"):
        compile_condition("(" * 2000 + "1" + ")" * 2000)
