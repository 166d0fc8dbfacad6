"""The ``daemon:`` section of touchflow.yaml: how far ahead to plan, claims, retries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from touchflow.checks import Collector
from touchflow.durations import parse_period


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonSettings:
    horizon: timedelta = timedelta(days=2)  # how far ahead touchpoints go into the outbox
    replan_every: timedelta = timedelta(minutes=15)  # full re-plan, besides fact changes
    catch_up: timedelta = timedelta(days=7)  # how far back a restart plans missed sends
    claim_timeout: timedelta = timedelta(minutes=5)  # a claim's lease (renewed by a live owner)
    retry_first: timedelta = timedelta(minutes=1)  # first backoff; doubles up to retry_max
    retry_max: timedelta = timedelta(hours=1)
    shutdown_grace: timedelta = timedelta(seconds=30)  # in-flight sends after SIGTERM
    watch_every: timedelta = timedelta(seconds=2)  # rules/templates/facts change checks
    # Prepare big batches (fresh plan, render, compose) in a second process, so the
    # daemon's event loop only speaks SMTP and SQL (docs/operations.md).
    worker_process: bool = True
    # Worker processes that plan a full plan's pages while the daemon writes them (None:
    # ``auto``, one per core for a store of more than a page of customers).
    plan_workers: int | None = None


_SECONDS = re.compile(r"^\s*(?P<n>\d+)\s*(s|sec|secs|second|seconds)\s*$", re.IGNORECASE)
_KEYS = tuple(DaemonSettings.__dataclass_fields__)  # each key is its field's name
_FLAGS = ("worker_process",)
_COUNTS = ("plan_workers",)
_PERIODS = tuple(key for key in _KEYS if key not in (*_FLAGS, *_COUNTS))


def parse_daemon(value: Any, line: int, out: Collector) -> DaemonSettings | None:
    doc = out.mapping(value, line, what="daemon")
    if doc is None:
        return None
    out.check_keys(doc, _KEYS, where="daemon")
    kw: dict[str, Any] = {}
    for key in _PERIODS:
        if key in doc:
            period = out.parse(_period_or_seconds, doc[key], doc.line_of(key), what=f"daemon.{key}")
            if period is not None:
                kw[key] = period
    for key in _FLAGS:
        if key in doc:
            if isinstance(doc[key], bool):
                kw[key] = doc[key]
            else:
                out.add(doc.line_of(key), f"daemon.{key} must be true or false, not {doc[key]!r}")
    if "plan_workers" in doc:
        workers = _workers(doc["plan_workers"])
        if workers is False:
            out.add(doc.line_of("plan_workers"), _WORKERS_WANTED + f", not {doc['plan_workers']!r}")
        else:
            kw["plan_workers"] = workers
    settings = DaemonSettings(**kw)
    if settings.retry_max < settings.retry_first:
        out.add(doc.line, "daemon.retry_max must not be shorter than daemon.retry_first")
    return settings


MAX_PLAN_WORKERS = 64  # as `preview --jobs`: each process loads the project (~75 MiB)
_WORKERS_WANTED = (
    "daemon.plan_workers must be auto or a whole number of processes, from 1 "
    f"(the daemon plans by itself) to {MAX_PLAN_WORKERS}"
)


def _workers(value: Any) -> int | bool | None:
    """``auto`` (None) or a whole number from 1 to MAX_PLAN_WORKERS; False for anything else."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PLAN_WORKERS:
        return value
    return False


def _period_or_seconds(value: Any) -> timedelta:
    """``"2 days"``, ``"90 minutes"`` or ``"30 seconds"``."""
    if isinstance(value, str):
        match = _SECONDS.match(value)
        if match is not None and int(match["n"]) > 0:
            return timedelta(seconds=int(match["n"]))
    return parse_period(value)
