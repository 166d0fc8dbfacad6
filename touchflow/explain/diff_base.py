"""The base version `touchflow diff` compares with: the project's files at a git revision,
or another checkout of it.

The project may be a subdirectory of its repository (``git rev-parse --show-prefix``):
its touchflow.yaml, rules/ and message_templates/ at the revision are written into a
temporary directory (``git archive``), which is removed afterwards. The base must
validate like any project; its problems are named as the base's, with file and line.
"""

from __future__ import annotations

import dataclasses
import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from touchflow.config.project_config import CONFIG_FILE
from touchflow.errors import ProblemsError, UserError
from touchflow.project import TEMPLATES_DIR, Project, load_project_checked

_PARTS = (CONFIG_FILE, "rules", TEMPLATES_DIR)


class BaseError(UserError):
    """The base cannot be had: not a git repository, an unknown revision."""


class BaseProblems(ProblemsError):
    """The base does not validate: its problems, each named as the base's."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Base:
    root: Path  # where the base's files are (a temporary directory for a revision)
    label: str  # how it is named: "HEAD (3f2c1a9)", or the directory
    rev: str | None = None
    commit: str | None = None


@contextmanager
def base_files(project_dir: Path, *, rev: str | None, base_dir: Path | None) -> Iterator[Base]:
    """The base's files while the block runs: ``base_dir`` as it is, or ``rev`` of git."""
    if base_dir is not None:
        yield Base(root=base_dir.resolve(), label=str(base_dir))
        return
    rev = rev or "HEAD"
    commit = commit_of(project_dir, rev)
    prefix = _git(project_dir, "rev-parse", "--show-prefix", what=rev)
    top = Path(_git(project_dir, "rev-parse", "--show-toplevel", what=rev))
    label = f"{rev} ({commit[:7]})"
    with tempfile.TemporaryDirectory(prefix="touchflow-diff-base-") as tmp:
        root = Path(tmp) / "base"
        root.mkdir()
        _extract(top, commit, prefix, root)
        yield Base(root=root, label=label, rev=rev, commit=commit)


def commit_of(project_dir: Path, rev: str) -> str:
    """The commit ``rev`` names in the project's repository (BaseError if none)."""
    if rev.startswith("-") or not rev.isprintable():
        raise BaseError(f"unknown revision {rev!r}: a revision does not start with '-'")
    return _git(project_dir, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", what=rev)


def load_base(base: Base) -> Project:
    """The base project, checked; a problem names the base and its file:line."""
    try:
        return load_project_checked(base.root)
    except ProblemsError as exc:
        shown = [
            dataclasses.replace(p, path=f"base {base.label}: {_relative(p.path, base.root)}")
            for p in exc.problems
        ]
        raise BaseProblems(shown) from None


def _relative(path: Path | str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _extract(top: Path, commit: str, prefix: str, root: Path) -> None:
    """The project's files at ``commit`` (``prefix``: its folder in the repository at ``top``)."""
    paths = [prefix + part for part in _PARTS]
    listed = _git(top, "ls-tree", "--name-only", commit, "--", *paths, what=commit)
    present = [p for p in listed.splitlines() if p]
    if not present:
        return  # nothing of the project at that revision: loading says so
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "--", *present],
        cwd=top, capture_output=True, check=False,
    )  # fmt: skip
    if archive.returncode != 0:
        raise BaseError(f"git archive {commit[:7]} failed: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        for member in tar.getmembers():
            if not member.name.startswith(prefix):
                continue
            member.name = member.name[len(prefix) :]
            if member.name:
                tar.extract(member, root, filter="data")


def _git(project_dir: Path, *args: str, what: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=project_dir, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise BaseError("git is not installed: pass the base as --base-dir DIR") from None
    if done.returncode == 0:
        return done.stdout.strip()
    if "not a git repository" in done.stderr.lower():
        raise BaseError(
            f"{project_dir} is not in a git repository: pass the base as --base-dir DIR"
        )
    raise BaseError(f"unknown revision {what!r} (git: {done.stderr.strip() or 'no such commit'})")
