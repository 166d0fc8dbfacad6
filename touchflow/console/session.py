"""Console sessions: a random id in an HttpOnly cookie, kept in this process's memory.

The cookie holds a random session id (32 bytes from ``secrets``), never the API token:
a stolen cookie ends with the session (logout, expiry, or a restart of the daemon), and
logging out revokes it at once, which a signed, stateless cookie could not. The forms'
CSRF token is an HMAC of the session id under a key made when the process starts, so it
is bound to the session and cannot be made without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict

COOKIE = "touchflow_console"
LIFETIME = 12 * 3600  # seconds a session lasts after login
MOST = 1000  # sessions kept; a login past this ends the oldest


class Sessions:
    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._ends: OrderedDict[str, float] = OrderedDict()  # session id → end (monotonic)

    def open(self) -> str:
        """A new session's id (the cookie's value)."""
        now = time.monotonic()
        for sid in [s for s, end in self._ends.items() if end <= now]:
            del self._ends[sid]
        while len(self._ends) >= MOST:
            self._ends.popitem(last=False)
        sid = secrets.token_urlsafe(32)
        self._ends[sid] = now + LIFETIME
        return sid

    def valid(self, sid: str | None) -> str | None:
        """``sid`` if it names a live session, else None."""
        if sid is None:
            return None
        end = self._ends.get(sid)
        if end is None or end <= time.monotonic():
            return None
        return sid

    def close(self, sid: str) -> None:
        self._ends.pop(sid, None)

    def csrf(self, sid: str) -> str:
        """The token every changing form of this session carries."""
        return hmac.new(self._key, sid.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, sid: str, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf(sid).encode())
