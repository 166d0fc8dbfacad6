"""A webhook receiver for tests, on 127.0.0.1, answering as each test needs.

``Receiver`` records every POST (its headers and body) and answers from a script:
``answers`` is a list used in turn, the last one repeating. An answer is a status
(``200``), a status with headers and a body (``(429, {"Retry-After": "120"}, b"slow
down")``), ``STALL`` (read the request, never answer: the client times out) or
``HOLD`` (record it, then wait until the test calls ``release()``: a daemon killed
while its POST is being answered). It runs in a thread, so a daemon in another
process and a channel in the test's own event loop can both post to it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from loopback import LoopbackServer, serving, url_of

STALL = "stall"
HOLD = "hold"
STALL_SECONDS = 5.0  # far past the client's timeout in the tests that stall

Answer = int | tuple[int, dict[str, str], bytes] | str


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class Receiver:
    def __init__(self, answers: Sequence[Answer] = (200,)) -> None:
        self.answers = list(answers)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.held = threading.Event()  # set when a HOLD answer has a request waiting

    def release(self) -> None:
        self._released.set()

    def next_answer(self, request: Received) -> Answer:
        with self._lock:
            self.received.append(request)
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        receiver = self.server.state
        answer = receiver.next_answer(Received(path=self.path, headers=headers, body=body))
        if answer == STALL:
            receiver._released.wait(STALL_SECONDS)
            return
        if answer == HOLD:
            receiver.held.set()
            receiver._released.wait(60)
            answer = 200
        status, extra, text = (answer, {}, b"") if isinstance(answer, int) else answer
        assert isinstance(status, int) and isinstance(extra, dict)
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests read `received`


@contextmanager
def serve(receiver: Receiver) -> Iterator[str]:
    """Run ``receiver`` on a free port of 127.0.0.1: its URL, ``http://127.0.0.1:PORT/hook``."""
    with serving(_Handler, receiver, release=receiver.release) as server:
        yield f"{url_of(server)}/hook"
