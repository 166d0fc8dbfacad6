"""Reloading a running daemon's project: when files changed, and what a reload cannot swap in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from touchflow import logs
from touchflow.errors import ProblemsError
from touchflow.project import Project


def fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes of everything a reload reads: cheap enough to check often."""
    paths = [root / "touchflow.yaml"]
    for folder in ("rules", "message_templates"):
        paths += sorted(p for p in (root / folder).rglob("*") if p.is_file())
    found = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


async def load_fresh(running: Project, load: Callable[[Path], Project]) -> Project | None:
    """The project as its files say now, or None (with the problems logged) if it does
    not validate: then the running one stays."""
    try:
        fresh = await asyncio.to_thread(load, running.config.root)
    except ProblemsError as exc:
        for problem in exc.problems:
            logs.log.error("reload refused: %s", problem, extra={"tf": {"event": "reload_error"}})
        logs.log.error("kept the rules and templates that were running; fix the above")
        return None
    _warn_restart_only(running, fresh)
    return fresh


def _warn_restart_only(old: Project, new: Project) -> None:
    """The settings a reload cannot swap in: the channel, the store and the timers."""
    changed = [
        label
        for label, before, after in (
            ("delivery", old.config.delivery, new.config.delivery),
            ("store", old.config.store_location(), new.config.store_location()),
            ("http.host, http.port or turning http on or off", _listen(old), _listen(new)),
            ("daemon timer intervals (replan_every, watch_every, claim_timeout)",
             _intervals(old), _intervals(new)),
        )
        if before != after
    ]  # fmt: skip
    for label in changed:
        logs.log.warning(
            "touchflow.yaml: changes to %s take effect when the daemon restarts", label
        )


def _intervals(project: Project) -> tuple[timedelta, ...]:
    daemon = project.config.daemon
    return (daemon.replan_every, daemon.watch_every, daemon.claim_timeout)


def _listen(project: Project) -> tuple[object, ...] | None:
    http = project.config.http
    return None if http is None else (http.host, http.port)
