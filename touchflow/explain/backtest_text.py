"""`touchflow backtest`'s tables for people: per rule, per day, then the keys that differ
(the first few, or with ``--details`` all of them)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, tzinfo

from touchflow.explain.backtest import BacktestReport, RuleLine
from touchflow.explain.backtest_tally import Difference, KeyDifference
from touchflow.timecalc import zone
from touchflow.words import counted

SHOWN = 10  # differences listed without --details
_HEADS = ("would send", "was sent", "same", "added", "dropped", "moved", "late")
_WORDS = {
    Difference.ADDED: "would send it; the outbox shows no send",
    Difference.DROPPED: "was sent; the rules would not send it",
    Difference.MOVED: "would send it on another day than it was sent",
    Difference.LATE: "the store learnt of it too late for the daemon to send it",
}


def report_lines(report: BacktestReport, *, details: bool) -> Iterator[str]:
    """The report as printed, times in the project's zone."""
    tz = zone(report.timezone)
    period = report.request.period
    yield (
        f"Backtest of {_t(period.start, tz)} to {_t(period.end, tz)} {report.timezone}, "
        f"{counted(report.customers, 'customer')}:"
    )
    yield "the rules as they are now, against what the outbox shows was sent."
    if period.as_happened:
        yield "Each event counted from when it happened, every customer as always there."
    elif report.arrived:
        yield (
            f"{counted(report.arrived, 'customer')} came into the store after the period "
            f"began ({_t(period.start, tz)}): the replay has them only from then on "
            "(--as-happened counts events from when they happened, and customers as "
            "always there)."
        )
    for block in (_rules(report.rules), _days(report), _differences(report, tz, details=details)):
        lines = list(block)
        if lines:
            yield ""
            yield from lines


def _rules(lines: tuple[RuleLine, ...]) -> Iterator[str]:
    shown = [r for r in lines if r.would_send or r.sent or any(r.differences.values())]
    if not shown:
        yield "Nothing would have been sent, and nothing was sent, in the period."
        return
    width = max(len("rule"), *(len(r.rule) for r in shown))
    yield f"{'rule':<{width}}  " + "  ".join(f"{h:>10}" for h in _HEADS) + "  file:line"
    for r in shown:
        values = (r.would_send, r.sent, r.both, *(r.differences[k] for k in Difference))
        where = r.where or "(no longer a rule)"
        yield f"{r.rule:<{width}}  " + "  ".join(f"{v:>10,}" for v in values) + f"  {where}"
    if len(shown) > 1:
        totals = [sum(r.would_send for r in shown), sum(r.sent for r in shown),
                  sum(r.both for r in shown),
                  *(sum(r.differences[k] for r in shown) for k in Difference)]  # fmt: skip
        yield f"{'total':<{width}}  " + "  ".join(f"{v:>10,}" for v in totals)
    if len(shown) < len(lines):
        rest = len(lines) - len(shown)
        yield f"The other {counted(rest, 'rule')} would have sent nothing, and sent nothing."


def _days(report: BacktestReport) -> Iterator[str]:
    if not report.days:
        return
    yield f"{'day':<10}  {'would send':>10}  {'was sent':>10}"
    for line in report.days:
        would, sent = sum(line.would_send.values()), sum(line.sent.values())
        mark = "" if line.would_send == line.sent else "  *"
        yield f"{line.day.isoformat():<10}  {would:>10,}  {sent:>10,}{mark}"
    if any(line.would_send != line.sent for line in report.days):
        yield "* the rules would have sent otherwise than was sent that day"


def _differences(report: BacktestReport, tz: tzinfo, *, details: bool) -> Iterator[str]:
    if report.same:
        yield "No difference: the rules would have sent exactly what was sent, on the same days."
        return
    counts = Counter(d.kind for d in report.differences)
    summary = ", ".join(f"{counts[k]:,} {k.value}" for k in Difference if counts[k])
    listed = report.differences if details else report.differences[:SHOWN]
    more = len(report.differences) - len(listed)
    yield f"Differences by key: {summary}" + (f"; the first {SHOWN}:" if more else ":")
    for d in listed:
        yield "  " + _difference(d, tz)
    if more:
        yield f"  … and {more:,} more: --details lists them all, --format json too."


def _difference(d: KeyDifference, tz: tzinfo) -> str:
    when = d.would_send_at or d.sent_at or d.due_at
    line = f"{d.kind.value:<7}  {_t(when, tz)}  {d.rule}  {d.customer}  {_WORDS[d.kind]}"
    if d.kind is Difference.MOVED and d.sent_at is not None:
        line += f" (sent {_t(d.sent_at, tz)})"
    if d.kind is Difference.LATE:
        line += f" (due {_t(d.due_at, tz)})"
    return line


def _t(instant: datetime, tz: tzinfo) -> str:
    return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M")
