"""`touchflow diff` against `touchflow preview` on the same project, interleaved.

    python bench/diff.py --project /tmp/tf-100k [--days 30] [--rounds 3]
    python bench/diff.py --smoke        # a 200-customer project in a tmp dir, 1 round

Each round runs, each in a fresh process and one after the other (A B C D A B C D …):

- ``preview``: `touchflow preview --days N` (the table, written to a file);
- ``preview_json``: `touchflow preview --days N --format json` (one process per core);
- ``diff_rules``: `touchflow diff --base-dir BASE --days N`, BASE the project's files with
  the coupon reminder at 10:00 instead of the working tree's 16:00 (rules only: what is
  rendered is only the touchpoints that moved);
- ``diff_template``: the same with the appointment reminder's subject changed too (every
  appointment reminder is rendered by both versions; the English ones differ).

The working tree is a copy of the project's files with its store named by absolute path
(nothing of the project is changed). One line per figure (``name value``), for scripts; the
ratios are medians of the per-round ratios against ``preview``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import gen

NOW = "2026-11-23T08:00:00+00:00"  # gen.py's default "now"
PARTS = ("touchflow.yaml", "rules", "message_templates")


def copy_parts(source: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for part in PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, dest / part)
        else:
            shutil.copy(source / part, dest / part)
    return dest


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def versions(project: Path, tmp: Path) -> tuple[Path, Path, Path]:
    """The working tree (the coupon reminder at 16:00, the store of ``project``), a base
    with rules alone changed, and a base with a template changed too."""
    work = copy_parts(project, tmp / "work")
    store = (project / ".touchflow" / "store.sqlite3").resolve()
    replace(work / "touchflow.yaml", "store: .touchflow/store.sqlite3", f"store: {store}")
    replace(work / "rules" / "shop.yaml", 'at: "10:00"', 'at: "16:00"')
    rules = copy_parts(project, tmp / "base-rules")
    template = copy_parts(project, tmp / "base-template")
    subject = template / "message_templates" / "appointment_reminder" / "subject.txt"
    replace(subject, "Reminder:", "Coming up:")
    return work, rules, template


def once(argv: list[str], out: Path) -> float:
    started = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run([sys.executable, "-m", "touchflow", *argv], stdout=sink, check=True,
                       stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


def run(project: Path, *, days: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="tf-bench-diff-") as name:
        tmp = Path(name)
        work, rules, template = versions(project, tmp)
        common = ["--project", str(work), "--now", NOW, "--days", str(days)]
        variants = {
            "preview": ["preview", *common],
            "preview_json": ["preview", *common, "--format", "json"],
            "diff_rules": ["diff", *common, "--base-dir", str(rules), "--format", "json"],
            "diff_template": ["diff", *common, "--base-dir", str(template), "--format", "json"],
        }
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for variant, argv in variants.items():
                seconds[variant].append(once(argv, tmp / f"{variant}.out"))
        sizes = {name: (tmp / f"{name}.out").stat().st_size for name in variants}
    report(seconds, sizes, days=days, rounds=rounds)


def report(
    seconds: dict[str, list[float]], sizes: dict[str, int], *, days: int, rounds: int
) -> None:
    print(f"diff.days {days}")
    print(f"diff.rounds {rounds}")
    for name, runs in seconds.items():
        print(f"diff.{name}_seconds_median {statistics.median(runs):.2f}")
        print(f"diff.{name}_seconds_min_max {min(runs):.2f} {max(runs):.2f}")
        print(f"diff.{name}_output_bytes {sizes[name]}")
    for name in ("preview_json", "diff_rules", "diff_template"):
        ratio = statistics.median(
            a / b for a, b in zip(seconds[name], seconds["preview"], strict=True)
        )
        print(f"diff.{name}_over_preview {ratio:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, help="a project made by bench/gen.py")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="200 customers, 1 round")
    args = parser.parse_args(argv)
    if args.smoke:
        with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
            project = gen.make_project(Path(tmp) / "project")
            asyncio.run(gen.fill_store(project, 200, seed=1, now=gen.datetime.fromisoformat(NOW)))
            run(project, days=args.days, rounds=1)
        return
    if args.project is None:
        parser.error("give --project DIR (made by bench/gen.py) or --smoke")
    run(args.project, days=args.days, rounds=max(1, args.rounds))


if __name__ == "__main__":
    main()
