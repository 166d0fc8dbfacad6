"""Running a worked example of the docs as written.

A section's ``sh`` blocks run as they are and each ``$ command`` of its ``console``
blocks runs in turn, all in one fresh copy of the sample, with ``touchflow`` on PATH
being the one under test; what a command prints must be the text under it (trailing
spaces aside: tables pad their lines).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def example_blocks(doc: str, heading: str) -> list[tuple[str, str]]:
    """``(kind, text)`` of each fenced block under ``heading`` (to the next ``###``)."""
    text = (REPO / "docs" / doc).read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n### ", 1)[0]
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


def touchflow_on_path(tmp_path: Path) -> Path:
    """A directory holding a ``touchflow`` that runs this interpreter's touchflow."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "touchflow").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m touchflow "$@"\n')
    (bin_dir / "touchflow").chmod(0o755)
    return bin_dir


def shell(script: str, cwd: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHFLOW_")}
    environ["PATH"] = f"{bin_dir}{os.pathsep}{environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd, capture_output=True, text=True, timeout=120, env=environ,
    )  # fmt: skip


def unpadded(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").splitlines()]


def run_example(found: list[tuple[str, str | None]], sample: Path, bin_dir: Path) -> None:
    """Each step in turn in ``sample``; each must succeed and print what the docs show."""
    for script, expected in found:
        result = shell(script, sample, bin_dir)
        assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
        if expected is not None:
            assert unpadded(result.stdout) == unpadded(expected), script
