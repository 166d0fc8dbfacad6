"""What every request handler reaches through ``request.app.state.api``."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from touchflow.config.http import HttpSecrets, HttpSettings
from touchflow.http.engine import Engine, Replanner
from touchflow.http.metrics import Metrics


@dataclass(frozen=True, slots=True, kw_only=True)
class Api:
    engine: Engine
    secrets: HttpSecrets
    replanner: Replanner
    metrics: Metrics

    @property
    def settings(self) -> HttpSettings:
        """The limits as of now: a reload of touchflow.yaml applies them to the next request."""
        return self.engine.project.config.http or HttpSettings()


def api_of(request: Request) -> Api:
    api = request.app.state.api
    assert isinstance(api, Api)
    return api
