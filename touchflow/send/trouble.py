"""What an operator should look at: bad data, templates that fail, a relay that refuses.

A problem that affects one customer shows without reading logs: ``/healthz``
says ``degraded`` with these lines, ``touchflow outbox`` prints them under its
counts, and ``/metrics`` counts rows by reason. The rule (docs/operations.md):

- customers held for ``invalid_data``, messages failed with ``render_error`` or
  ``invalid_message``, or ``rejected`` by the relay (5xx), due in the last 24 hours;
- messages still retrying after ``RETRIES`` attempts (the relay or the connection
  keeps failing: 4xx, timeouts, refused connections).

Counted from the store, so every process sees the same (the store is the truth).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from touchflow.store import Store
from touchflow.words import counted

RECENT = timedelta(hours=24)
RETRIES = 3  # one 4xx is weather; three in a row for the same message is a problem
_REASONS = ("invalid_data", "render_error", "invalid_message", "rejected")
_WORDS = {
    "invalid_data": "{customers} held: their data could not be planned "
    "({rows}, reason invalid_data)",
    "render_error": "{messages} for {customers} failed to render "
    "(reason render_error: a template error)",
    "invalid_message": "{messages} for {customers} could not be composed "
    "(reason invalid_message: CR/LF/NUL bound for a header)",
    "rejected": "{messages} rejected by the relay (reason rejected: 5xx)",
    "retry": "{messages} still retrying after " + str(RETRIES) + " or more attempts "
    "(the relay or the connection keeps failing)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Trouble:
    reason: str  # a row reason, or "retry"
    rows: int
    customers: int

    @property
    def words(self) -> str:
        return _WORDS[self.reason].format(
            rows=counted(self.rows, "touchpoint"),
            messages=counted(self.rows, "message"),
            customers=counted(self.customers, "customer"),
        )


async def find(store: Store, now: datetime) -> list[Trouble]:
    """Every kind of trouble there is now, in a fixed order."""
    found = await store.outbox_trouble(since=now - RECENT, reasons=_REASONS, retries=RETRIES)
    order = [*_REASONS, "retry"]
    return sorted(
        (Trouble(reason=r, rows=n, customers=c) for r, n, c in found),
        key=lambda t: order.index(t.reason),
    )
