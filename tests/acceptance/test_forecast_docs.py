"""The worked example of `touchflow forecast` in docs/explain.md, run as written
(``docs_support``): in one fresh copy of the sample, each command prints what the docs
show under it."""

from __future__ import annotations

from pathlib import Path

from docs_support import example_blocks, run_example, steps, touchflow_on_path

HEADING = "### How many go out on 1 December, and is the relay's rate limit enough?"


def test_the_forecast_example_in_docs_explain_md_prints_what_it_shows(
    sample: Path, tmp_path: Path
) -> None:
    found = steps(example_blocks("explain.md", HEADING))
    assert sum(1 for _, out in found if out is not None) >= 3, "the example lost its commands"
    assert any("rate:" in script for script, out in found if out is None)
    run_example(found, sample, touchflow_on_path(tmp_path))
