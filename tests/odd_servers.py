"""HTTP servers on 127.0.0.1 that answer oddly, for the channels that POST (SMS, webhook).

``trickling()``: answers 201 with a JSON content type and a long ``Content-Length``, then
sends a space every 0.1 s until the client goes (each read is quick, the whole never
ends). ``gzipping(status, body)``: answers ``body`` gzip-compressed when the request's
``Accept-Encoding`` allows gzip, as it is otherwise; it keeps each request's
``Accept-Encoding`` in ``server.state.asked``. Each runs in a thread while its context
is open (tests/loopback.py).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from loopback import LoopbackServer, serving, url_of

__all__ = ["gzipping", "trickling", "url_of"]

TRICKLE_SECONDS = 30.0  # how long a trickle lasts at most: far past any test's timeout


@dataclass
class Odd:
    """What the odd server answers, and what it was asked."""

    status: int = 200
    body: bytes = b""
    asked: list[str] = field(default_factory=list)  # each request's Accept-Encoding
    stop: threading.Event = field(default_factory=threading.Event)


class _Trickle(BaseHTTPRequestHandler):
    server: LoopbackServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        until = time.monotonic() + TRICKLE_SECONDS
        try:
            while time.monotonic() < until and not self.server.state.stop.wait(0.1):
                self.wfile.write(b" ")
                self.wfile.flush()
        except OSError:
            pass  # the client went: what the test wants

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Gzip(BaseHTTPRequestHandler):
    server: LoopbackServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        asked = self.headers.get("Accept-Encoding") or ""
        self.server.state.asked.append(asked)
        body = self.server.state.body
        zipped = "gzip" in asked
        if zipped:
            body = gzip.compress(body)
        self.send_response(self.server.state.status)
        self.send_header("Content-Type", "application/json")
        if zipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def trickling() -> Iterator[LoopbackServer]:
    odd = Odd()
    with serving(_Trickle, odd, release=odd.stop.set) as server:
        yield server


@contextmanager
def gzipping(status: int, body: bytes) -> Iterator[LoopbackServer]:
    odd = Odd(status=status, body=body)
    with serving(_Gzip, odd, release=odd.stop.set) as server:
        yield server
