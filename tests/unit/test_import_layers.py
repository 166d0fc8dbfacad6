"""The package's imports run one way: no circles, and each wing imports only wings below it.

The module graph is read from the source with ``ast`` (every ``import``, also those
inside functions and under ``TYPE_CHECKING``), so a new arrow that runs back up fails here
before anyone has to find it in a picture. (A module imported by name at run time,
``importlib.import_module("touchflow....")``, is not seen: the package imports with statements.)
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "touchflow"

# Bottom to top. A module of one wing may import modules of its own wing and of the
# wings listed before it, never one listed after it. docs/architecture.md draws this.
WINGS = (
    "core",  # the modules at the top of the package: models, errors, clock, YAML reading...
    "config",
    "store",
    "rules",
    "messages",
    "project",
    "channels",
    "plan",
    "data",
    "send",
    "explain",  # questions about the plan that need the store and the outbox's logic
    "console",  # the web console's pages; touchflow.http serves them
    "http",
    "cli",
)
# Pairs of wings at the same height that must stay unaware of each other.
APART = {
    ("store", "rules"),
    ("store", "messages"),
    ("rules", "messages"),
    ("channels", "plan"),
    ("channels", "data"),
    ("plan", "data"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def wing(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    if module in ("touchflow.project", "touchflow.__main__"):
        return {"touchflow.project": "project", "touchflow.__main__": "cli"}[module]
    return "core"


def imports_of(path: Path, modules: set[str]) -> Iterator[str]:
    """The touchflow modules that ``path`` imports (``from a import b``: ``a.b`` if a module)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: the package imports absolutely"
            base = node.module or ""
            names = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            while name not in modules and "." in name:
                name = name.rpartition(".")[0]
            if name in modules:
                yield name


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {m: set(imports_of(p, modules)) - {m} for m, p in paths.items()}


def test_every_module_belongs_to_a_listed_wing() -> None:
    assert {wing(m) for m in graph()} <= set(WINGS)


def test_no_module_imports_itself_through_others() -> None:
    edges = graph()
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    circles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for n in sorted(edges[m]):
            if seen.get(n) == 1:
                circles.append([*path[path.index(n) :], n])
            elif n not in seen:
                visit(n, [*path, n])
        seen[m] = 2

    for m in sorted(edges):
        if m not in seen:
            visit(m, [m])
    assert circles == []


def arrows_against_the_wings() -> list[str]:
    rank = {w: i for i, w in enumerate(WINGS)}
    wrong = []
    for m, targets in sorted(graph().items()):
        for n in sorted(targets):
            a, b = wing(m), wing(n)
            if a == b:
                continue
            if rank[b] > rank[a] or (a, b) in APART or (b, a) in APART:
                wrong.append(f"{m} ({a}) -> {n} ({b})")
    return wrong


def test_each_wing_imports_only_the_wings_below_it() -> None:
    assert arrows_against_the_wings() == []


@pytest.mark.parametrize(
    "name",
    [
        "SqliteStore", "aiosqlite", "touchflow.store.sqlite",
        "PostgresStore", "psycopg", "touchflow.store.postgres",
    ],
)  # fmt: skip
def test_no_module_outside_the_store_names_an_implementation(name: str) -> None:
    outside = [p for p in PACKAGE.rglob("*.py") if "store" not in p.relative_to(PACKAGE).parts[:1]]
    assert [str(p.relative_to(PACKAGE)) for p in outside if name in p.read_text()] == []


def test_only_the_postgresql_store_imports_its_driver() -> None:
    """The driver is an extra: a module outside store/postgres/ importing it would break
    touchflow for every SQLite user who did not install it."""
    postgres = PACKAGE / "store" / "postgres"
    found = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if postgres not in p.parents
        and re.search(r"^\s*(import|from) psycopg", p.read_text(), re.M)
    ]
    assert found == []
