"""A touchpoint cancelled by a person (`touchflow cancel`, the console's Cancel button).

The store cancels only a row still pending or retrying (``Store.cancel_by_hand``, one
conditional write, so a row a dispatcher claimed meanwhile is left to be sent). The
row keeps reason ``cancelled_by_hand`` and says where and when in its detail;
re-planning keeps it (``touchflow.send.outbox``) until `touchflow retry KEY` (or the
console's Retry) re-queues it. Here: the words, and the refusals with their reasons.
"""

from __future__ import annotations

from datetime import datetime

from touchflow.errors import UserError
from touchflow.models import OutboxRow, OutboxState
from touchflow.store import HandCancel, Store

# Where a person cancelled, as the row's detail says it.
WHERE = {
    "console": "in the console",
    "cli": "with `touchflow cancel`",
    "api": "through the HTTP API",
}

# Why a row in this state cannot be cancelled (pending and retrying rows can).
_REFUSED = {
    OutboxState.CLAIMED: "it is being sent right now (claimed{owner}); it can no longer be held",
    OutboxState.SENT: "it was already sent; nothing is left to cancel",
    OutboxState.FAILED: "it failed for good and is not sent again unless re-queued",
    OutboxState.EXPIRED: "it expired without being sent; it does not go out",
    OutboxState.CANCELLED: "the plan already cancelled it ({reason}); it does not go out",
    OutboxState.SUPPRESSED: "it is suppressed ({reason}); it does not go out",
}


class CancelRefused(UserError):
    """A touchpoint that cannot be cancelled: no such key, being sent, or already ended.
    ``row``: the row as the store had it (None: no such key)."""

    def __init__(self, message: str, row: OutboxRow | None) -> None:
        super().__init__(message)
        self.row = row


def detail(where: str, now: datetime) -> str:
    """``"cancelled by hand in the console at 2026-12-06 14:00 UTC"``."""
    return f"cancelled by hand {WHERE.get(where, where)} at {now.strftime('%Y-%m-%d %H:%M UTC')}"


def was(row: OutboxRow) -> str:
    """The state a row was in, with its reason: ``"retry: temporary_failure"``."""
    return row.state.value + (f": {row.reason}" if row.reason else "")


async def cancel(store: Store, key: str, *, now: datetime, where: str) -> HandCancel:
    """Cancel ``key`` by hand; ``CancelRefused`` saying why not. A row already cancelled
    by hand is no refusal: the result says so (``cancelled`` is False)."""
    done = await store.cancel_by_hand(key, now=now, detail=detail(where, now))
    if done is None:
        raise CancelRefused(f"no touchpoint {key!r} in the outbox", None)
    if done.cancelled or done.after.held_by_hand:
        return done
    row = done.after
    owner = f" by {row.claim_owner}" if row.claim_owner else ""
    why = _REFUSED[row.state].format(owner=owner, reason=row.reason or "no reason recorded")
    raise CancelRefused(f"{key} is {row.state.value}: {why}", row)
