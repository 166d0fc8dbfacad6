"""Wrong tokens at the console's login, counted per client address and slowed down.

An address that gave ``FAILS`` wrong tokens within ``WINDOW`` seconds gets 429 (with
``Retry-After``) for each wrong token until the oldest of them is ``WINDOW`` seconds
old, and those are not logged one by one. A right token always logs in, and forgets
the address's failures: a stranger who shares the address (behind a proxy every
login comes from the proxy's) cannot lock the operators out. The API token is long
and random, so guessing it is hopeless anyway: this keeps a guesser from filling the
log. The address is the connection's peer (the server ignores X-Forwarded-For, which
a client could set to anything). At most ``ADDRESSES`` addresses are remembered, the
longest quiet dropped first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque

FAILS = 5
WINDOW = 60.0  # seconds
ADDRESSES = 10_000


class Throttle:
    def __init__(self) -> None:
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()  # address → failure times

    def wait(self, address: str) -> int:
        """Seconds ``address`` must wait before its next login is checked (0: none)."""
        times = self._recent(address)
        if len(times) < FAILS:
            return 0
        return max(1, round(times[0] + WINDOW - time.monotonic()))

    def failed(self, address: str) -> bool:
        """Count a wrong token from ``address``; True if this one made it wait."""
        times = self._recent(address)
        times.append(time.monotonic())
        self._fails[address] = times
        self._fails.move_to_end(address)
        while len(self._fails) > ADDRESSES:
            self._fails.popitem(last=False)
        return len(times) == FAILS

    def passed(self, address: str) -> None:
        self._fails.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        times = self._fails.get(address, deque())
        while times and times[0] <= time.monotonic() - WINDOW:
            times.popleft()
        return times
