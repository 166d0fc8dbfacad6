"""One touchpoint → its rendered templates → its RFC 5322 message (or, for an SMS, its
text); shared by preview and daemon.

A touchpoint that cannot be rendered or composed comes back held with the
reason, so preview shows it and the daemon records it instead of sending.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from touchflow.config.project_config import ProjectConfig
from touchflow.errors import HeaderInjectionError, RenderError
from touchflow.messages.compose import Composed, ComposeError, compose, list_id_for
from touchflow.messages.render import (
    EMAIL_PARTS,
    SMS_PARTS,
    WEBHOOK_PARTS,
    RenderedMessage,
    TemplateSet,
)
from touchflow.messages.unsubscribe import UnsubscribeLinks
from touchflow.models import Category, HoldReason, PlannedTouchpoint, Status

_PARTS = {"sms": SMS_PARTS, "webhook": WEBHOOK_PARTS}  # what each channel renders


class Sources(Protocol):
    """What building a message reads of a loaded project (``touchflow.project.Project``)."""

    @property
    def config(self) -> ProjectConfig: ...
    @property
    def templates(self) -> TemplateSet: ...
    @property
    def unsubscribe(self) -> UnsubscribeLinks | None: ...
    @property
    def auto_replied(self) -> Set[str]: ...  # ids of rules that answer a customer's message


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    touchpoint: PlannedTouchpoint  # held with RENDER_ERROR or INVALID_MESSAGE if it failed
    message: RenderedMessage | None
    email: Composed | None = None  # composed when it has an address: what would be sent


def build(project: Sources, tp: PlannedTouchpoint, *, date: datetime) -> Built:
    """Render and compose; ``date`` is the message's Date header. A text (``channel: sms``)
    renders only sms.txt, and is not composed; a webhook (no address) also webhook.json.j2."""
    customer = tp.context.get("customer", {})
    sms = tp.channel == "sms"
    message: RenderedMessage | None = None
    email: Composed | None = None
    problem: tuple[HoldReason, str] | None = None
    unsubscribe = unsubscribe_uris(project, tp)
    try:
        message = project.templates.render(
            tp.template,
            locale=customer.get("locale") or project.config.locale,
            timezone=tp.timezone,
            context={**tp.context, "message": message_fields(project, unsubscribe)},
            parts=_PARTS.get(tp.channel, EMAIL_PARTS),
        )
        if tp.to and not sms:
            email = _compose(project, tp, message, date, unsubscribe)
    except RenderError as exc:
        problem = (HoldReason.RENDER_ERROR, str(exc))
    except (HeaderInjectionError, ComposeError) as exc:
        problem = (HoldReason.INVALID_MESSAGE, str(exc))
    if problem is not None and tp.status is Status.PLANNED:
        tp = dataclasses.replace(tp, status=Status.HELD, reason=problem[0], detail=problem[1])
    return Built(touchpoint=tp, message=message, email=email)


def unsubscribe_uris(project: Sources, tp: PlannedTouchpoint) -> tuple[str, ...]:
    """The List-Unsubscribe URIs of a marketing message to ``tp.to`` (none otherwise; a
    text has none either: its recipient replies STOP)."""
    if tp.category is not Category.MARKETING or tp.channel == "sms":
        return ()
    unsubscribe = project.config.email.unsubscribe
    if tp.to and project.unsubscribe is not None:
        # First: clients use the leftmost URI they support, and this one acts at once.
        unsubscribe = (project.unsubscribe.url(tp.to, tp.category), *unsubscribe)
    return unsubscribe


def message_fields(project: Sources, unsubscribe: tuple[str, ...]) -> Mapping[str, Any]:
    """What templates see as ``message``, beside the subject the renderer adds: the link
    the footer shows (the first List-Unsubscribe URI: the one-click one where there is
    one) and the postal address; each None where there is none."""
    return {
        "unsubscribe_url": unsubscribe[0] if unsubscribe else None,
        "postal_address": project.config.email.postal_address,
    }


def _compose(
    project: Sources,
    tp: PlannedTouchpoint,
    message: RenderedMessage,
    date: datetime,
    unsubscribe: tuple[str, ...],
) -> Composed:
    assert tp.to is not None
    email = project.config.email
    marketing = tp.category is Category.MARKETING
    auto = "auto-replied" if tp.rule_id in project.auto_replied else "auto-generated"
    return compose(
        rendered=message,
        key=tp.key,
        from_addr=email.from_addr,
        to_addr=tp.to,
        reply_to=email.reply_to,
        date=date,
        domain=email.domain,
        list_unsubscribe=unsubscribe,
        # RFC 8058 one-click needs an https URI to POST to.
        one_click=any(u.lower().startswith("https://") for u in unsubscribe),
        list_id=list_id_for(tp.rule_id, email.from_addr) if marketing else None,
        auto_submitted=auto,
    )
