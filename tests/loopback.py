"""One fake HTTP server on a free port of 127.0.0.1, run in a thread for a ``with``
block: the fakes of Twilio (sms_support), a webhook receiver (webhook_support) and the
odd servers share it. A handler reads its fake's state as ``self.server.state``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    state: Any  # the fake the handler answers for


@contextmanager
def serving(
    handler: type[BaseHTTPRequestHandler], state: Any, *, release: Callable[[], None]
) -> Iterator[LoopbackServer]:
    """Serve ``handler`` with ``state`` until the block ends; then ``release`` ends any
    answer still held (a stall), and the server stops."""
    server = LoopbackServer(("127.0.0.1", 0), handler)
    server.state = state
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        release()
        server.shutdown()
        server.server_close()
        thread.join(5)


def url_of(server: LoopbackServer) -> str:
    """``http://127.0.0.1:PORT``."""
    return f"http://127.0.0.1:{server.server_address[1]}"
