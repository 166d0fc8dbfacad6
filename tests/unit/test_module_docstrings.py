"""Every module in the package opens with a docstring whose first sentence says its job.

A newcomer opening any file should learn what it is for from its first line, before
reading a line of code (issue 14: "a map for the next person").
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "touchflow"
MODULES = sorted(PACKAGE.rglob("*.py"))


def summary(path: Path) -> str | None:
    """The module docstring's first paragraph on one line, or None without a docstring.

    Only a string as the module's first statement is its docstring: one after an
    import or a comment-only header is a plain expression Python does not keep.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    first = tree.body[0] if tree.body else None
    if not (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return None
    paragraph = first.value.value.strip().split("\n\n")[0]
    return " ".join(paragraph.split())


def test_the_package_is_found() -> None:
    assert len(MODULES) > 50, "PACKAGE points at the wrong folder"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_opens_with_a_sentence_saying_its_job(path: Path) -> None:
    text = summary(path)
    assert text is not None, "the first statement should be a docstring saying the module's job"
    assert text, "the docstring's first line is empty"
    # A sentence, whole: it may run over a line break, and end with a colon that a
    # list below it completes ("The flags every subcommand shares: ...").
    assert text.endswith((".", ":")), f"the first sentence does not end: {text!r}"
