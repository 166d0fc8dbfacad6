"""`touchflow why`: the story as text for people, one line a decision.

Plain lines, not a table: the same width on every terminal, so the docs' example
reads as the command prints it. A mark starts each check: ``ok`` passed, ``NO``
stopped it, ``..`` a fact on the way (an anchor, a time).
"""

from __future__ import annotations

from collections.abc import Iterator

from touchflow.plan.trace_model import Check, CustomerStory, RuleStory, TouchpointStory
from touchflow.plan.trace_words import row_state, yes_no
from touchflow.timecalc import zone

_MARK = {True: "ok", False: "NO", None: ".."}


def story_lines(story: CustomerStory, *, details: bool = True) -> Iterator[str]:
    """The story; ``details``: every check (else only the verdicts and what stopped each)."""
    c = story.customer
    tz = zone(story.timezone)
    yield (
        f"Customer {c.id} <{c.email or 'no address'}> · {story.timezone} · "
        f"{story.country or 'no country'} · marketing consent: {yes_no(c.consent_marketing)}"
    )
    yield (
        f"From {story.past.start.astimezone(tz):%Y-%m-%d %H:%M} to now, "
        f"{story.now.astimezone(tz):%Y-%m-%d %H:%M}, and on to "
        f"{story.future.end.astimezone(tz):%Y-%m-%d %H:%M} ({story.timezone})"
    )
    for rule in story.rules:
        yield ""
        yield from _rule_lines(rule, details)


def _rule_lines(rule: RuleStory, details: bool) -> Iterator[str]:
    # Email goes without saying; another channel is named.
    channels = rule.channels or (rule.channel,)
    by = "" if channels == ("email",) else f", by {' or '.join(channels)}"
    yield f"{rule.rule_id} ({rule.category}, {rule.trigger}{by}) {rule.where}"
    for check in rule.found:
        yield _check_line(check, "  ")
    if rule.none is not None:
        yield f"  no touchpoint: {rule.none}"
    for tp in rule.touchpoints:
        yield from _touchpoint_lines(tp, details)


def _touchpoint_lines(tp: TouchpointStory, details: bool) -> Iterator[str]:
    local = tp.due_at.astimezone(zone(tp.timezone))
    verdict = tp.status.upper() if tp.reason is None else f"HELD: {tp.reason.value}"
    if tp.channel != "email":
        verdict += f" · by {tp.channel}"
    if tp.outbox is not None:
        verdict += f" · outbox: {row_state(tp.outbox)}"
    yield f"  {tp.period} · {local:%a %Y-%m-%d %H:%M %Z} · {tp.occurrence} · {verdict}"
    yield f"    key {tp.key}"
    if tp.stopped_by is not None:
        yield f"    stopped by: {tp.stopped_by}"
    if details:
        for check in tp.checks:
            yield _check_line(check, "    ")


def _check_line(check: Check, indent: str) -> str:
    return f"{indent}{_MARK[check.passed]} {check.stage.value:<7} {check.text}"
