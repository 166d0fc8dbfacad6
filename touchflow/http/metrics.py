"""``GET /metrics``: the Prometheus text format, from the store and from the log lines.

Nothing is threaded through the dispatcher. Counts by state come from the
store when Prometheus scrapes (the store is the truth, also right after a
restart); what happens between scrapes is read from the daemon's own log
records: one per outbox state change (``event: "state"``, with from, to,
reason and due time) and one per planning run (``event: "plan"``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from touchflow import logs
from touchflow.http.engine import Engine
from touchflow.models import OutboxState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# claimed → retry/failed with these reasons: the server (or the connection) said no.
SMTP_ERROR_CLASSES = ("temporary_failure", "bad_mailbox", "rejected")
CHANNELS = ("email", "webhook", "sms")  # the rules' action.channel values
_WAITING = (OutboxState.PENDING, OutboxState.RETRY, OutboxState.CLAIMED)
_LATENCY_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600)
_PLAN_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    """One registry per daemon (not prometheus-client's global one)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.send_latency = _latency(r)
        self.smtp_errors = Counter(
            "touchflow_smtp_errors",
            "Delivery attempts the server or connection refused, by class "
            "(temporary_failure: retried; bad_mailbox: 5.1.x or Twilio 21610; rejected: "
            "other 5xx, a webhook's or Twilio's 4xx) and channel (email, webhook, sms).",
            ["class", "channel"], registry=r,
        )  # fmt: skip
        self.plan_seconds = Histogram(
            "touchflow_plan_seconds",
            "Planning runs by scope (all: the full plan; changed: changed customers).",
            ["scope"], buckets=_PLAN_BUCKETS, registry=r,
        )  # fmt: skip
        self.last_sent = Gauge(
            "touchflow_last_dispatch_timestamp_seconds",
            "Unix time the last message was accepted (0: none yet).",
            registry=r,
        )
        self.instance = Gauge(
            "touchflow_instance_info",
            "This daemon: its instance id and role (planner: it plans; sender: it only sends).",
            ["instance", "role"], registry=r,
        )  # fmt: skip
        self.store_reachable = Gauge(
            "touchflow_store_reachable", "1 while the daemon reaches its store, else 0.", registry=r
        )
        self._outbox = _OutboxCollector()
        r.register(self._outbox)
        self._observer = _LogObserver(self)
        self._seeded = False
        self._seen_send = False
        self._level: int | None = None

    def install(self) -> None:
        """Start reading the daemon's log records."""
        self._level = logs.observe(self._observer)

    def uninstall(self) -> None:
        if self._level is not None:
            logs.unobserve(self._observer, self._level)
            self._level = None

    async def render(self) -> bytes:
        """The text Prometheus reads, with the store's counts as of now."""
        store, now = self._engine.store, self._engine.clock.now()
        standing = self._engine.standing
        self.instance.clear()
        self.instance.labels(standing.instance, standing.role).set(1)
        self.store_reachable.set(1 if standing.store_ok else 0)
        if not self._seeded:  # after a restart: the last send the store remembers
            last = await store.last_sent_at()
            if last is not None and not self._seen_send:
                self.last_sent.set(self._engine.clock.to_wall(last).timestamp())
            self._seeded = True
        rules = [rule.id for rule in self._engine.project.rules]
        counts = await store.outbox_counts_by_rule()
        reasons = await store.outbox_reason_counts()
        self._outbox.refresh(counts, rules, ready=await store.outbox_ready_count(now))
        self._outbox.reasons = reasons
        return generate_latest(self.registry)

    def observe(self, fields: dict[str, object]) -> None:
        """One log record's fields."""
        if fields.get("event") == "plan":
            seconds = fields.get("seconds")
            if isinstance(seconds, int | float):
                self.plan_seconds.labels(str(fields.get("scope"))).observe(seconds)
            return
        if fields.get("event") != "state" or fields.get("from") != OutboxState.CLAIMED.value:
            return
        channel = str(fields.get("channel") or "email")
        if fields.get("to") == OutboxState.SENT.value:
            self.last_sent.set_to_current_time()
            self._seen_send = True
            due = _instant(fields.get("due_at"))
            if due is not None:
                latency = (self._engine.clock.now() - due).total_seconds()
                self.send_latency.labels(channel).observe(max(latency, 0.0))
        elif fields.get("reason") in SMTP_ERROR_CLASSES:
            self.smtp_errors.labels(str(fields["reason"]), channel).inc()


class _LogObserver(logging.Handler):
    def __init__(self, metrics: Metrics) -> None:
        super().__init__(logging.INFO)
        self._metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "tf", None)
        if isinstance(fields, dict):
            try:
                self._metrics.observe(fields)
            except Exception:  # a metric must never break the line it reads
                self.handleError(record)


class _OutboxCollector(Collector):
    """Gauges set from the store at each scrape."""

    def __init__(self) -> None:
        self._counts: list[tuple[OutboxState, str, int]] = []
        self._rules: list[str] = []
        self._ready = 0
        self.reasons: list[tuple[OutboxState, str, int]] = []

    def refresh(
        self, counts: list[tuple[OutboxState, str, int]], rules: list[str], *, ready: int
    ) -> None:
        self._counts, self._rules, self._ready = counts, rules, ready

    def describe(self) -> Iterator[Metric]:
        return iter(self._families(with_samples=False))

    def collect(self) -> Iterator[Metric]:
        return iter(self._families(with_samples=True))

    def _families(self, *, with_samples: bool) -> list[Metric]:
        rows = GaugeMetricFamily(
            "touchflow_touchpoints",
            "Outbox rows by state and rule.",
            labels=["state", "rule"],
        )
        depth = GaugeMetricFamily(
            "touchflow_outbox_depth", "Touchpoints not sent yet: pending, retry and claimed."
        )
        ready = GaugeMetricFamily(
            "touchflow_outbox_ready", "Pending and retry rows whose time has come (the backlog)."
        )
        by_reason = GaugeMetricFamily(
            "touchflow_touchpoints_by_reason",
            "Outbox rows held, failed, expired or retrying, by state and reason "
            "(invalid_data, render_error, rejected, temporary_failure, ...).",
            labels=["state", "reason"],
        )
        if with_samples:
            for state, reason, n in sorted(self.reasons):
                by_reason.add_metric([state.value, reason], n)
            by_pair = {(state, rule): n for state, rule, n in self._counts}
            # Every (state, rule) pair, zeros included: a series must not vanish at 0.
            for rule in sorted({*self._rules, *(rule for _, rule, _ in self._counts)}):
                for state in OutboxState:
                    rows.add_metric([state.value, rule], by_pair.get((state, rule), 0))
            depth.add_metric([], sum(n for state, _, n in self._counts if state in _WAITING))
            ready.add_metric([], self._ready)
        return [rows, depth, ready, by_reason]


def _latency(registry: CollectorRegistry) -> Histogram:
    latency = Histogram(
        "touchflow_send_latency_seconds",
        "From a touchpoint's due time to the server accepting it (retries included), "
        "by channel (email, webhook, sms).",
        ["channel"], buckets=_LATENCY_BUCKETS, registry=registry,
    )  # fmt: skip
    for channel in CHANNELS:  # a series from the start, not from the first send
        latency.labels(channel)
    return latency


def _instant(value: object) -> datetime | None:
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return instant if instant.utcoffset() is not None else None
