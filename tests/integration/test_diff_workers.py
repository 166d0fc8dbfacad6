"""`touchflow diff` in worker processes finds what it finds in one; rules alone render nothing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from daemon_support import copy_sample

from touchflow.cli import flows
from touchflow.explain.diff import diff_request, run_diff
from touchflow.explain.diff_base import base_files, load_base
from touchflow.explain.diff_json import report_json
from touchflow.explain.diff_run import Versions
from touchflow.messages.render import TemplateSet
from touchflow.plan.moment import read_moment
from touchflow.project import load_project_checked


def two_versions(tmp_path: Path, change: Callable[[Path], None]) -> tuple[Path, Path]:
    (tmp_path / "new").mkdir()
    new = copy_sample(tmp_path / "new")
    base = tmp_path / "base"
    for part in ("touchflow.yaml", "rules", "message_templates"):
        source = new / part
        if source.is_dir():
            shutil.copytree(source, base / part)
        else:
            base.mkdir(exist_ok=True)
            shutil.copy(source, base / part)
    change(new)
    return base, new


async def diff_document(base_dir: Path, new_dir: Path, *, workers: int) -> dict[str, Any]:
    new = load_project_checked(new_dir)
    moment = read_moment("2026-12-10", new.config.timezone)
    with base_files(new_dir, rev=None, base_dir=base_dir) as base:
        old = load_base(base)
        request = diff_request(old, new, moment, days=30)
        async with await flows.open_store(new.config) as store:
            await flows.ensure_sample(store, new.config, moment.instant, lambda _: None)
            versions = Versions.of(old, new, request.window)
            return report_json(await run_diff(base, versions, store, request, workers=workers))


def shop_at_four(root: Path) -> None:
    shop = root / "rules" / "shop.yaml"
    shop.write_text(shop.read_text().replace('at: "10:00"', 'at: "16:00"'), encoding="utf-8")
    subject = root / "message_templates" / "review_request" / "subject.txt"
    subject.write_text(subject.read_text().replace("Thank you", "Thanks"), encoding="utf-8")


async def test_worker_processes_find_what_one_process_finds(tmp_path: Path) -> None:
    base, new = two_versions(tmp_path, shop_at_four)
    alone = await diff_document(base, new, workers=1)
    shared = await diff_document(base, new, workers=2)
    assert alone == shared
    assert len(alone["changes"]) == 3


async def test_a_change_to_rules_renders_only_the_touchpoints_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def shop_only(root: Path) -> None:
        shop = root / "rules" / "shop.yaml"
        shop.write_text(shop.read_text().replace('at: "10:00"', 'at: "16:00"'), encoding="utf-8")

    base, new = two_versions(tmp_path, shop_only)
    rendered: list[datetime] = []
    real = TemplateSet.render

    def counting(self: TemplateSet, name: str, **kw: Any) -> Any:
        rendered.append(datetime.now())
        return real(self, name, **kw)

    monkeypatch.setattr(TemplateSet, "render", counting)
    document = await diff_document(base, new, workers=1)
    assert [c["kinds"] for c in document["changes"]] == [["moved"], ["moved"]]
    # Of 45 touchpoints, only the moved one that is planned: once with each version (a
    # template may show touchpoint.send_at). The other is held: nothing to render.
    assert len(rendered) == 2
