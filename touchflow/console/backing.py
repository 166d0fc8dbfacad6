"""What the console reaches through ``request.app.state.api``: the daemon's engine (its
project, store, clock, timers and standing), the API token and the re-planner,
described here so that the console needs nothing from ``touchflow.http`` (which mounts
it): its ``Api`` has all of these."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, cast

from starlette.requests import Request

from touchflow.clock import Clock
from touchflow.config.http import HttpSecrets
from touchflow.project import Project
from touchflow.send.daemon_planning import LastPlan
from touchflow.send.instance import Standing
from touchflow.store import Store


class Engine(Protocol):
    @property
    def project(self) -> Project: ...

    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Clock: ...

    def timers(self) -> dict[str, datetime | None] | None:
        """Timer name → next run, or None when the scheduler is not running."""
        ...

    @property
    def standing(self) -> Standing:
        """This daemon among the daemons of its store: instance id, role, the store reached."""
        ...

    @property
    def last_plan(self) -> LastPlan | None:
        """This daemon's last full plan since it started: when, how long, how many."""
        ...


class Replanning(Protocol):
    def request(self) -> None:
        """Re-plan the customers that changed and wake the dispatch loop, soon."""
        ...


class Backing(Protocol):
    @property
    def engine(self) -> Engine: ...

    @property
    def secrets(self) -> HttpSecrets: ...

    @property
    def replanner(self) -> Replanning: ...


def backing_of(request: Request) -> Backing:
    return cast(Backing, request.app.state.api)
