"""What ``/v1/sms/inbound`` remembers between requests: replies already handled, and
refusals already logged.

``Handled``: the ``MessageSid`` of the last ``REMEMBERED`` replies acted on, in memory.
Twilio's signature has no timestamp, so a signed request captured on the way (a
proxy's log, say) stays valid for ever; a repeat of a reply already handled is answered
like the first but changes nothing (a START replayed after the customer's later STOP
would otherwise lift it). The memory starts empty when the daemon starts, and keeps
only the latest replies: a replay from before the last restart, or older than
``REMEMBERED`` replies, acts again (documented in docs/channels.md).

``RefusalLog``: a flood of forged requests logs one line a minute per client address,
counting the ones in between (as the console's login throttle keeps a guesser out of the
log); at most ``ADDRESSES`` addresses are remembered, the longest quiet dropped first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

REMEMBERED = 10_000  # replies' MessageSids
ADDRESSES = 10_000  # client addresses whose refusals are counted
EVERY = 60.0  # seconds between two refusals logged for one address


class Handled:
    """The MessageSids of the latest replies acted on."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self._size = size
        self._sids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, sid: object) -> bool:
        return sid in self._sids

    def add(self, sid: str) -> None:
        self._sids[sid] = None
        self._sids.move_to_end(sid)
        while len(self._sids) > self._size:
            self._sids.popitem(last=False)


class RefusalLog:
    """Decides which refusals are logged: one a minute per address, the rest counted."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()  # last logged, unlogged

    def refused(self, address: str) -> int | None:
        """Count a refusal from ``address``: None not to log it, else how many refusals
        from there were not logged since the last line (0 for the first)."""
        now = self._now()
        entry = self._seen.get(address)
        if entry is None or now - entry[0] >= EVERY:
            quiet: int | None = entry[1] if entry is not None else 0
            self._seen[address] = (now, 0)
        else:
            quiet = None
            self._seen[address] = (entry[0], entry[1] + 1)
        self._seen.move_to_end(address)
        while len(self._seen) > ADDRESSES:
            self._seen.popitem(last=False)
        return quiet
