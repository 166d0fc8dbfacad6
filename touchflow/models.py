"""Values that flow between the store, the planner and the edges.

All frozen: the planner is pure and hands these around without copying.
Datetimes here are always timezone-aware (UTC unless said otherwise); naive
ones are rejected where data enters (importer, CLI, config).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any


class Category(enum.StrEnum):
    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


class SuppressionScope(enum.StrEnum):
    """What a suppression blocks: marketing only, or every message."""

    MARKETING = "marketing"
    ALL = "all"


class Status(enum.StrEnum):
    PLANNED = "planned"
    HELD = "held"


class HoldReason(enum.StrEnum):
    """Why a touchpoint will not be sent. Part of the public JSON interface."""

    CANCELLED = "cancelled"
    CONDITION_FALSE = "condition_false"
    SUPPRESSED = "suppressed"
    NO_CONSENT = "no_consent"
    NO_ADDRESS = "no_address"
    SKIPPED_HOLIDAY = "skipped_holiday"
    CAPPED = "capped"
    INVALID_DATA = "invalid_data"
    RENDER_ERROR = "render_error"
    INVALID_MESSAGE = "invalid_message"  # e.g. CR/LF from data bound for a header
    TOO_LATE = "too_late"  # policies moved the send past its expiry (e.g. past the coupon's end)


class Adjustment(enum.StrEnum):
    """A planned touchpoint whose time a policy changed (still sent)."""

    MOVED_BY_WINDOW = "moved_by_window"
    MOVED_BY_HOLIDAY = "moved_by_holiday"
    DST_GAP = "dst_gap"


# Core customer fields, in import order. Everything else is an attribute.
CUSTOMER_CORE_FIELDS: tuple[str, ...] = (
    "id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "timezone",
    "locale",
    "country",
    "birthday",
    "customer_since",
    "consent_marketing",
    "consent_sms",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    id: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None  # IANA name; None: the project default
    locale: str | None = None  # e.g. "de" or "en_GB"; None: the project default
    country: str | None = None  # ISO 3166-1 alpha-2, upper case
    birthday: date | None = None
    customer_since: date | None = None
    consent_marketing: bool = False
    # Consent to text messages (every sms touchpoint needs it, reminders too); kept apart
    # from consent_marketing: consent is recorded per channel.
    consent_sms: bool = False
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # When the store first saw the customer (set by the store, never imported); None:
    # not known (stored before touchflow recorded it). Nothing that expired before it
    # is planned: no daemon could have sent it.
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    id: str
    type: str
    customer_id: str
    at: datetime  # aware
    data: Mapping[str, Any] = field(default_factory=dict)
    # When the store recorded it (set by the store from the writer's clock, never
    # imported); None: not known (recorded before touchflow kept it) or not read (the
    # planner's facts leave it out: reading it would cost a column per event on the
    # hot path).
    recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Suppression:
    """A suppressed address. ``email`` holds the address, whatever its channel: an e-mail
    address (lower-cased) or a phone number in E.164 (``+4915112345678``, which has no
    letters and no ``@``, so the two kinds never collide)."""

    email: str
    scope: SuppressionScope
    reason: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownSince:
    """When the store learnt a customer's facts (for `touchflow backtest`): each event's
    recorded_at by event id, and each suppression scope on their address with its
    created_at; None where that is not known."""

    events: Mapping[str, datetime | None] = field(default_factory=dict)
    suppressions: Mapping[SuppressionScope, datetime | None] = field(default_factory=dict)
    # The same for the scopes on their phone number (``CustomerFacts.suppressed_phone``).
    phone_suppressions: Mapping[SuppressionScope, datetime | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SentRecord:
    """A touchpoint already sent (from the outbox) that counts towards caps.

    It counts at ``due_at``, the time it was planned for, not the moment it went
    out: see ``touchflow.plan.candidates.apply_caps``. Sends of rules with ``caps:
    false`` are not handed to the planner as SentRecords at all: they neither
    count nor limit.
    """

    key: str
    customer_id: str
    category: Category
    due_at: datetime
    channel: str = "email"  # the channel it went by (for a cap per channel)


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerFacts:
    """Everything the planner may know about one customer."""

    customer: Customer
    events: Sequence[Event] = ()  # sorted by (at, id)
    suppressed: frozenset[SuppressionScope] = frozenset()  # of the email address
    sent: Sequence[SentRecord] = ()
    # A stored value of theirs that could not be read (written by hand or by a bug):
    # the planner holds them as invalid_data with these words instead of planning.
    unreadable: str | None = None
    # The suppression scopes on the customer's phone number (E.164), as ``suppressed``.
    suppressed_phone: frozenset[SuppressionScope] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """Half-open planning window [start, end), both aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Window bounds must be timezone-aware")
        if self.end < self.start:
            raise ValueError("Window end lies before its start")

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    @classmethod
    def of_days(cls, start: datetime, days: int) -> Window:
        return cls(start=start, end=start + timedelta(days=days))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedTouchpoint:
    """One touchpoint the planner produced, planned or held with a reason."""

    key: str  # deterministic: rule, customer, occurrence, offset
    rule_id: str
    customer_id: str
    occurrence: str
    channel: str
    template: str
    category: Category
    priority: int
    due_at: datetime  # UTC, after policies moved it
    timezone: str  # the zone the customer's local times are in
    status: Status
    reason: HoldReason | None = None
    detail: str | None = None  # human words for the reason or adjustment
    adjustments: tuple[Adjustment, ...] = ()
    to: str | None = None
    # After this instant a late send is pointless (the appointment has begun, the
    # birthday is over): catch-up marks it expired instead. None only in old tests.
    expires_at: datetime | None = None
    # Values the templates see for this touchpoint (customer, event, occurrence...).
    context: Mapping[str, Any] = field(default_factory=dict)


class FieldType(enum.StrEnum):
    """Declared type of a customer attribute or an event data field."""

    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATE = "date"  # YYYY-MM-DD, a local calendar date
    DATETIME = "datetime"  # ISO 8601 with an offset; naive values are rejected
    LIST = "list"  # of strings; in CSV written as "a;b;c"
    ANY = "any"  # JSON value, unchecked (templates may still use it)


class OutboxState(enum.StrEnum):
    """Where a touchpoint is in the outbox. Part of the CLI and JSON interface."""

    PENDING = "pending"  # waiting for its due time
    CLAIMED = "claimed"  # a dispatcher is sending it right now
    SENT = "sent"  # accepted by the server / written to the Maildir; final
    RETRY = "retry"  # a temporary failure; tried again at next_attempt_at
    FAILED = "failed"  # permanent failure; `touchflow retry KEY` re-queues it
    CANCELLED = "cancelled"  # the plan no longer sends it (cancel event, condition...)
    EXPIRED = "expired"  # came due but could not go out before it expired
    SUPPRESSED = "suppressed"  # the address is suppressed or has no consent

    @property
    def final(self) -> bool:
        """A state re-planning does not change (`touchflow retry` re-queues FAILED; an
        EXPIRED row comes back only if its occurrence moved later)."""
        return self in (OutboxState.SENT, OutboxState.FAILED, OutboxState.EXPIRED)


# The reason of a touchpoint a person cancelled (`touchflow cancel`, the console's Cancel
# button): a hold re-planning keeps; only `touchflow retry KEY` lifts it.
CANCELLED_BY_HAND = "cancelled_by_hand"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxRow:
    """One touchpoint in the outbox, keyed by its deterministic touchpoint key."""

    key: str
    rule_id: str
    customer_id: str
    category: Category
    counts_for_caps: bool
    state: OutboxState
    due_at: datetime
    expires_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    reason: str | None = None  # machine word: a HoldReason, "expired", "bad_mailbox"...
    last_error: str | None = None  # human detail
    claim_owner: str | None = None
    claim_expires_at: datetime | None = None
    message_id: str | None = None
    to: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    sent_at: datetime | None = None
    channel: str = "email"  # the rule's action.channel: email or webhook

    @property
    def held_by_hand(self) -> bool:
        """Cancelled by a person: re-planning keeps it so until `touchflow retry` lifts it."""
        return self.state is OutboxState.CANCELLED and self.reason == CANCELLED_BY_HAND


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """One state change, for the log line: the row as it is now, and where it came from."""

    row: OutboxRow
    old: OutboxState | None  # None: a new row
