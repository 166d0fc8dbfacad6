"""The worked example of `touchflow backtest` in docs/explain.md, run as written
(``docs_support``): in one fresh copy of the sample, a new rule is added and the
backtest prints what the docs show under it."""

from __future__ import annotations

from pathlib import Path

from docs_support import example_blocks, run_example, steps, touchflow_on_path

HEADING = "### How many would the new win-back rule have reached last month?"
JSON = "### `--format json` and `GET /v1/backtest`"


def test_the_backtest_example_in_docs_explain_md_prints_what_it_shows(
    sample: Path, tmp_path: Path
) -> None:
    found = steps(example_blocks("explain.md", HEADING))
    assert sum(1 for script, out in found if out is not None and "backtest" in script) >= 2
    assert any("win-back" in script for script, out in found if out is None)
    run_example(found, sample, touchflow_on_path(tmp_path))


def test_the_json_shown_is_what_the_example_prints(sample: Path, tmp_path: Path) -> None:
    found = steps(example_blocks("explain.md", HEADING) + example_blocks("explain.md", JSON))
    assert found[-1][0].endswith("--format json")
    run_example([found[0], found[-1]], sample, touchflow_on_path(tmp_path))
