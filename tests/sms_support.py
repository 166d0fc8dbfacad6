"""A fake of Twilio's Messages API for tests, on 127.0.0.1, answering as each test needs.

``FakeTwilio`` records every request (its path, its Basic auth and its form) and
answers from a script: ``answers`` is used in turn, the last one repeating. An answer
is one of the names below (``ACCEPT``: 201 with a message SID; ``RATE_LIMITED``: 429
with ``Retry-After: 1``; ``UNSUBSCRIBED``: 400 with Twilio's code 21610…), a
``(status, headers, body)`` of its own, ``STALL`` (read the request, never answer: the
client times out), ``DROP`` (read it, close the connection unanswered) or ``HOLD``
(record it, then wait until ``release()`` and accept: a daemon killed while Twilio
answers). It runs in a thread, so a daemon in another process and a provider in the
test's own event loop can both use it.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from loopback import LoopbackServer, serving, url_of

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "tw-token-not-real-0123456789"
ENV = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
STALL = "stall"
HOLD = "hold"
DROP = "drop"  # read the request, then close the connection without an answer
STALL_SECONDS = 5.0  # far past the client's timeout in the tests that stall

Answer = str | tuple[int, dict[str, str], bytes]


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, str], bytes]:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


ACCEPT = "accept"
RATE_LIMITED = (429, {"Retry-After": "1", "Content-Type": "application/json"}, json.dumps(
    {"code": 20429, "message": "Too Many Requests", "status": 429}).encode())  # fmt: skip
SERVER_ERROR = _error(500, 20500, "Internal Server Error")
UNSUBSCRIBED = _error(400, 21610, "Attempt to send to unsubscribed recipient")
INVALID_NUMBER = _error(400, 21211, "The 'To' number +1555 is not a valid phone number.")
NOT_MOBILE = _error(400, 21614, "'To' number is not a valid mobile number")
UNAUTHORIZED = _error(401, 20003, "Authenticate")


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    auth: tuple[str, str] | None  # Basic auth: (user, password)
    form: dict[str, str]  # each field's one value


class FakeTwilio:
    def __init__(self, answers: Sequence[Answer] = (ACCEPT,)) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.held = threading.Event()  # set when a HOLD answer has a request waiting

    def release(self) -> None:
        self._released.set()

    def next_answer(self, request: Request) -> tuple[Answer, int]:
        with self._lock:
            self.requests.append(request)
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
            return answer, len(self.requests)


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        request = Request(path=self.path, auth=_basic(self.headers.get("Authorization")), form=form)
        fake = self.server.state
        answer, n = fake.next_answer(request)
        if answer == STALL:
            fake._released.wait(STALL_SECONDS)
            return
        if answer == DROP:
            self.close_connection = True
            return
        if answer == HOLD:
            fake.held.set()
            fake._released.wait(60)
            answer = ACCEPT
        if answer == ACCEPT:
            sid = f"SM{n:032x}"
            body = json.dumps({"sid": sid, "status": "queued", "to": form.get("To")}).encode()
            answer = (201, {"Content-Type": "application/json"}, body)
        assert isinstance(answer, tuple)
        status, extra, text = answer
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests read `requests`


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


@contextmanager
def serve(fake: FakeTwilio) -> Iterator[str]:
    """Run ``fake`` on a free port of 127.0.0.1: its API URL, ``http://127.0.0.1:PORT``."""
    with serving(_Handler, fake, release=fake.release) as server:  # a stall ends at the end
        yield url_of(server)


def messages_path(sid: str = ACCOUNT_SID) -> str:
    return f"/2010-04-01/Accounts/{sid}/Messages.json"
