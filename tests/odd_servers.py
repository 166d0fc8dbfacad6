"""HTTP servers on 127.0.0.1 that answer oddly, for the channels that POST (SMS, webhook).

``trickling()``: answers 201 with a JSON content type and a long ``Content-Length``, then
sends a space every 0.1 s until the client goes (each read is quick, the whole never
ends). ``gzipping(status, body)``: answers ``body`` gzip-compressed when the request's
``Accept-Encoding`` allows gzip, as it is otherwise; it keeps each request's
``Accept-Encoding`` in ``asked``. Each runs in a thread while its context is open.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TRICKLE_SECONDS = 30.0  # how long a trickle lasts at most: far past any test's timeout


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    status = 200
    body = b""
    asked: list[str]
    stop: threading.Event


class _Trickle(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        until = time.monotonic() + TRICKLE_SECONDS
        try:
            while time.monotonic() < until and not self.server.stop.wait(0.1):
                self.wfile.write(b" ")
                self.wfile.flush()
        except OSError:
            pass  # the client went: what the test wants

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Gzip(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        asked = self.headers.get("Accept-Encoding") or ""
        self.server.asked.append(asked)
        body = self.server.body
        zipped = "gzip" in asked
        if zipped:
            body = gzip.compress(body)
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        if zipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _run(handler: type[BaseHTTPRequestHandler], server: _Server) -> Iterator[_Server]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def _server(handler: type[BaseHTTPRequestHandler]) -> _Server:
    server = _Server(("127.0.0.1", 0), handler)
    server.asked = []
    server.stop = threading.Event()
    return server


def url_of(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@contextmanager
def trickling() -> Iterator[_Server]:
    with _run(_Trickle, _server(_Trickle)) as server:
        yield server


@contextmanager
def gzipping(status: int, body: bytes) -> Iterator[_Server]:
    server = _server(_Gzip)
    server.status, server.body = status, body
    with _run(_Gzip, server) as running:
        yield running
