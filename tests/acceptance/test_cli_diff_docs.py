"""The diff section of docs/explain.md, run as written on a copy of the sample project:
each ```sh block in turn, and the ```text block right after one is what it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IDENTITY = {
    "GIT_AUTHOR_NAME": "Ops", "GIT_AUTHOR_EMAIL": "ops@example.com",
    "GIT_COMMITTER_NAME": "Ops", "GIT_COMMITTER_EMAIL": "ops@example.com",
}  # fmt: skip


def diff_section() -> str:
    text = (REPO / "docs" / "explain.md").read_text(encoding="utf-8")
    return text.split("## `touchflow diff`", 1)[1].split("\n## ", 1)[0]


def doc_steps() -> list[tuple[str, str | None]]:
    """Each ```sh block, with the ```text block that follows it directly, if one does."""
    blocks = re.findall(r"```(\w*)\n(.*?)```", diff_section(), flags=re.DOTALL)
    steps: list[tuple[str, str | None]] = []
    previous = ""
    for kind, body in blocks:
        if kind == "sh":
            steps.append((body, None))
        elif kind == "text" and previous == "sh":
            steps[-1] = (steps[-1][0], body)
        previous = kind
    return steps


def shell(command: str, cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``command`` in bash, with the `touchflow` under test first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "touchflow").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m touchflow "$@"\n')
    (bin_dir / "touchflow").chmod(0o755)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TOUCHFLOW_", "GIT_"))}
    environ |= IDENTITY | {"PATH": f"{bin_dir}{os.pathsep}{environ.get('PATH', '')}"}
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + command], cwd=cwd, capture_output=True,
        text=True, timeout=120, env=environ,
    )  # fmt: skip


def test_the_worked_example_prints_what_the_docs_show(sample: Path, tmp_path: Path) -> None:
    steps = doc_steps()
    assert [c.split()[0] for c, _ in steps] == ["git", "sed", "touchflow", "touchflow"]
    assert steps[2][1] is not None and steps[3][1] is not None
    for command, expected in steps:
        result = shell(command, sample, tmp_path)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        if expected is not None:
            assert result.stdout == expected, f"{command}\n{result.stdout}"


def test_the_ci_step_runs_the_command_the_docs_name() -> None:
    section = diff_section()
    assert "on: pull_request" in section
    assert "touchflow diff --base origin/${{ github.base_ref }}" in section
    assert "--exit-code" in section
