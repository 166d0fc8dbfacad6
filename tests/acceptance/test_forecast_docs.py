"""The worked example of `touchflow forecast` in docs/explain.md, run as written.

Its ``sh`` blocks run as they are and each ``$ command`` of its ``console`` blocks
runs in turn, all in one fresh copy of the sample; what a command prints must be
the text under it (trailing spaces aside: the tables pad their lines).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEADING = "### How many go out on 1 December, and is the relay's rate limit enough?"


def example_blocks() -> list[tuple[str, str]]:
    """``(kind, text)`` of each fenced block of the worked example, in order."""
    text = (REPO / "docs" / "explain.md").read_text(encoding="utf-8")
    section = text.split(HEADING, 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```(console|sh)\n(.*?)```", section, flags=re.DOTALL)


def steps(blocks: list[tuple[str, str]]) -> list[tuple[str, str | None]]:
    """``(shell text, expected stdout or None)``: a console block's ``$`` lines each
    with the lines under them; an sh block as a whole, its output not compared."""
    found: list[tuple[str, str | None]] = []
    for kind, text in blocks:
        if kind == "sh":
            found.append((text, None))
            continue
        for chunk in re.split(r"(?m)^\$ ", text)[1:]:
            command, _, output = chunk.partition("\n")
            found.append((command, output))
    return found


def shell(script: str, cwd: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHFLOW_")}
    environ["PATH"] = f"{bin_dir}{os.pathsep}{environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd, capture_output=True, text=True, timeout=120, env=environ,
    )  # fmt: skip


def unpadded(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").splitlines()]


def test_the_forecast_example_in_docs_explain_md_prints_what_it_shows(
    sample: Path, tmp_path: Path
) -> None:
    # `touchflow` on PATH is the one under test, run by this interpreter.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "touchflow").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m touchflow "$@"\n')
    (bin_dir / "touchflow").chmod(0o755)
    found = steps(example_blocks())
    assert sum(1 for _, out in found if out is not None) >= 3, "the example lost its commands"
    assert any("rate:" in script for script, out in found if out is None)
    for script, expected in found:
        result = shell(script, sample, bin_dir)
        assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
        if expected is not None:
            assert unpadded(result.stdout) == unpadded(expected), script
