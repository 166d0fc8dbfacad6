"""Serve the HTTP interface with uvicorn inside the daemon's own event loop.

The daemon owns the process: its signals (uvicorn's handlers are switched
off), its logging (uvicorn's goes through touchflow's handler), its shutdown
(the daemon stops the server first, then finishes sends in flight). The socket
is bound before the daemon starts, so a taken port stops `touchflow run` at
once with a clear message instead of after planning.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator, Mapping

import uvicorn

from touchflow import logs
from touchflow.config.http import HttpSettings, read_secrets
from touchflow.errors import TouchflowError
from touchflow.http.app import create_app
from touchflow.http.engine import Engine, Replanner
from touchflow.http.metrics import Metrics
from touchflow.http.sms_inbound import open_inbound
from touchflow.http.state import Api

_GRACE = 5  # seconds for requests in flight when the daemon stops


class ListenError(TouchflowError):
    """The port cannot be taken (in use, not allowed): an operational failure, exit 1."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # SIGTERM, SIGINT and SIGHUP are the daemon's


class HttpService:
    """The daemon's ``Service`` for HTTP: ``bind()`` first, then the daemon starts and stops it."""

    def __init__(self, engine: Engine, settings: HttpSettings, environ: Mapping[str, str]) -> None:
        self._settings = settings
        self.api = Api(
            engine=engine,
            secrets=read_secrets(environ),  # before binding: a missing secret stops the start
            replanner=Replanner(engine),
            metrics=Metrics(engine),
        )
        # Twilio's auth token is read here, once: a missing one stops the start.
        sms = engine.project.config.delivery.sms
        self._inbound = open_inbound(sms, environ, self.api.metrics.registry)
        self._socket: socket.socket | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    def bind(self) -> str:
        """Take the port; the URL it is served at (with the real port when 0 was asked)."""
        host, port = self._settings.host, self._settings.port
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )[0]
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            raise ListenError(f"http.host {host!r}: {exc.strerror or exc}") from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
        except OSError as exc:
            sock.close()
            raise ListenError(
                f"cannot serve HTTP on {host}:{port} (http.host, http.port): {exc.strerror or exc}"
            ) from None
        self._socket = sock
        return self.url

    @property
    def url(self) -> str:
        assert self._socket is not None
        host, port = self._socket.getsockname()[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    async def start(self, stop_daemon: Callable[[], None]) -> None:
        assert self._socket is not None, "bind() first"
        config = uvicorn.Config(
            create_app(self.api, inbound=self._inbound),
            lifespan="off",
            ws="none",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,  # a client's address is its own, never a header it sent
            timeout_graceful_shutdown=_GRACE,
        )
        server = self._server = _Server(config)
        self.api.metrics.install()
        self._task = asyncio.get_running_loop().create_task(server.serve(sockets=[self._socket]))
        while not server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise ListenError("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)
        self._task.add_done_callback(lambda task: self._ended(task, stop_daemon))
        logs.log.info("HTTP interface at %s (docs/api.md)", self.url)
        logs.log.info("web console at %s/console/ (docs/console.md)", self.url)
        if self._inbound is not None:
            logs.log.info(
                "SMS replies (STOP, START) at %s/v1/sms/inbound, signed for %s",
                self.url, self._inbound.shown_url,
            )  # fmt: skip

    def _ended(self, task: asyncio.Task[None], stop_daemon: Callable[[], None]) -> None:
        if self._server is not None and self._server.should_exit:
            return  # stop() asked for it
        reason = "it stopped" if task.cancelled() or task.exception() is None else task.exception()
        logs.log.error("the HTTP server ended (%s); stopping the daemon", reason)
        stop_daemon()

    async def stop(self) -> None:
        """Stop taking requests, give those in flight a moment, then stop re-planning."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._task
        await self.api.replanner.idle()
        self.api.metrics.uninstall()
        if self._socket is not None:
            self._socket.close()
        logs.log.info("HTTP interface stopped")
