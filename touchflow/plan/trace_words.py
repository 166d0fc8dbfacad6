"""`touchflow why` in words: the planner's decisions as an ops person reads them.

Kept in one place, so that a hold reason, a time adjustment or an outbox state reads
the same wherever the story of a customer names it (the table and the JSON's
``stopped_by`` both take their sentences from here).
"""

from __future__ import annotations

from touchflow.models import Adjustment, HoldReason, OutboxRow, OutboxState

# What stopped a touchpoint, by the planner's hold reason. The planner's detail (which
# condition, which event, which cap) follows after a colon.
HELD: dict[HoldReason, str] = {
    HoldReason.CANCELLED: "cancelled by a later event",
    HoldReason.INVALID_DATA: "the data it is built on cannot be read",
    HoldReason.CONDITION_FALSE: "a condition of the rule is false",
    HoldReason.NO_ADDRESS: "the customer has no address for the channel",
    HoldReason.SUPPRESSED: "the address is suppressed",
    HoldReason.NO_CONSENT: "the customer has not consented to it (marketing, or texts)",
    HoldReason.SKIPPED_HOLIDAY: "it falls on a public holiday and the rule skips holidays",
    HoldReason.CAPPED: "the frequency cap was already full",
    HoldReason.TOO_LATE: "moved past the moment it expires, so it would arrive too late",
    HoldReason.RENDER_ERROR: "its template cannot be rendered",
    HoldReason.INVALID_MESSAGE: "the message it makes cannot be sent",
}

# The consent gate of a rule that requires it, closed.
NO_CONSENT = (
    "the customer has not consented to marketing (consent_marketing is false), which this "
    "rule requires (policies: require_consent)"
)

# The consent gate of a text, closed: every text needs it, reminders too.
NO_SMS_CONSENT = (
    "the customer has not consented to texts (consent_sms is false), which every text needs"
)

# How a policy moved a touchpoint that is still sent.
MOVED: dict[Adjustment, str] = {
    Adjustment.MOVED_BY_WINDOW: "moved to the next opening of the send window",
    Adjustment.MOVED_BY_HOLIDAY: "moved to the next day that is not a public holiday",
    Adjustment.DST_GAP: "the local time does not exist (clocks jump forward): sent as they jump",
}

# What an outbox row's state means for the customer.
OUTBOX: dict[OutboxState, str] = {
    OutboxState.PENDING: "waiting in the outbox for its time",
    OutboxState.CLAIMED: "being sent right now",
    OutboxState.SENT: "accepted by the mail server (or written to the Maildir)",
    OutboxState.RETRY: "a send failed for now; it is tried again",
    OutboxState.FAILED: "the mail server refused it for good (`touchflow retry KEY` re-queues it)",
    OutboxState.CANCELLED: "not sent: the plan no longer sends it",
    OutboxState.EXPIRED: "not sent: its time came but it could not go out before it expired",
    OutboxState.SUPPRESSED: "not sent: the address is suppressed or has no consent",
}


# A row a person cancelled (`touchflow cancel`, the console): the plan does not lift it.
BY_HAND = "not sent: cancelled by hand; the plan keeps it so (`touchflow retry KEY` sends it)"


def held_words(reason: HoldReason, detail: str | None) -> str:
    """``"a condition of the rule is false: rules/x.yaml:12: customer.tier == 'gold'"``."""
    words = HELD.get(reason, reason.value)
    return f"{words}: {detail}" if detail else words


def moved_words(adjustment: Adjustment) -> str:
    return MOVED.get(adjustment, adjustment.value)


def outbox_words(state: OutboxState) -> str:
    return OUTBOX.get(state, state.value)


def row_words(row: OutboxRow) -> str:
    """What a row's state means, a row cancelled by hand told apart from the plan's."""
    return BY_HAND if row.held_by_hand else outbox_words(row.state)


def row_state(row: OutboxRow) -> str:
    """``"cancelled by hand"`` for a row a person cancelled, else its state."""
    return "cancelled by hand" if row.held_by_hand else row.state.value


def yes_no(value: bool) -> str:
    return "yes" if value else "no"
