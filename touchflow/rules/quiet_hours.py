"""Quiet hours for texts: a marketing rule that may send by sms is sent only within
``delivery.sms.marketing_hours`` (08:00 to 21:00 by default) in the customer's zone.

Applied when the rule is loaded, by narrowing its send window (its own or its
category's) to those hours; a rule without a window gets them every day. The window
belongs to the rule, not to one channel: with a fallback (``channels: [sms, email]``)
the stricter hours apply to the whole rule, its e-mails too, so a customer's
touchpoint is due at the same time whichever channel it goes by. Such a touchpoint
also expires when the hours close on its day (``Policies.closes``): a text the daemon
could not send in time (it was down, a retry waited) is not sent at night.
"""

from __future__ import annotations

import dataclasses
from datetime import time

from touchflow.checks import Collector
from touchflow.config.policies import Policies, SendWindow
from touchflow.config.project_config import ProjectConfig
from touchflow.models import Category

_EVERY_DAY = frozenset(range(7))


def quiet_hours(
    policies: Policies,
    category: Category | None,
    channels: tuple[str, ...],
    config: ProjectConfig,
    out: Collector,
    line: int,
) -> Policies:
    """The rule's policies with its send window within the texts' marketing hours."""
    sms = config.delivery.sms
    if category is not Category.MARKETING or "sms" not in channels or sms is None:
        return policies
    start, end = sms.marketing_hours
    window = policies.send_window
    if window is None:
        narrowed = SendWindow(start=start, end=end, days=_EVERY_DAY)
    else:
        narrowed = SendWindow(
            start=max(window.start, start), end=min(window.end, end), days=window.days
        )
        if narrowed.end <= narrowed.start:
            out.add(
                line,
                f"this marketing rule sends texts, which go out only from {_hm(start)} to "
                f"{_hm(end)} (delivery.sms.marketing_hours), but its send window is "
                f"{_hm(window.start)} to {_hm(window.end)}: they never overlap",
            )
            return policies
    return dataclasses.replace(policies, send_window=narrowed, closes=True)


def _hm(at: time) -> str:
    return f"{at:%H:%M}"
