"""One touchpoint's message, exactly as the dispatcher would build it now.

The touchpoint is found as the customer page's story finds it: the customer planned
over the past ``DEFAULT_PAST`` days and the next ``DEFAULT_DAYS`` (as `touchflow why`
plans them), its key picked out. The message is then made by ``touchflow.messages.build.build``, the
function the dispatcher's ``touchflow.send.batch.envelope`` sends the bytes of: the
same subject, headers (List-Unsubscribe among them), text and HTML, from the templates
as they are now. touchflow keeps no copy of what it sent, so a sent touchpoint shows
what its templates render today. The DKIM signature, when configured, is added as the
message leaves and is not shown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default

from touchflow.console.backing import Engine
from touchflow.messages.build import build
from touchflow.models import OutboxRow, OutboxState, PlannedTouchpoint, Status
from touchflow.plan.candidates import sends_counted_from
from touchflow.plan.moment import Moment
from touchflow.plan.planner import Planner
from touchflow.plan.trace_store import DEFAULT_DAYS, DEFAULT_PAST, why_request
from touchflow.project import Project
from touchflow.store import Store


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageView:
    """What the message page shows of one touchpoint."""

    touchpoint: PlannedTouchpoint  # held with the reason if its message cannot be built
    row: OutboxRow | None  # its outbox row, if the daemon has planned it
    headers: tuple[tuple[str, str], ...] = ()  # as sent, decoded; () without an address
    source: str = ""  # the message's header block as the relay receives it
    subject: str = ""
    text: str = ""
    html: str | None = None
    sendable: bool = False  # planned, with an address: the dispatcher would send these bytes

    @property
    def sent(self) -> bool:
        return self.row is not None and self.row.state is OutboxState.SENT


async def find_touchpoint(
    project: Project, store: Store, customer_id: str, key: str, now: datetime
) -> PlannedTouchpoint | None:
    """The touchpoint ``key`` of the customer's story (its past or its coming period)."""
    moment = Moment(instant=now, timezone=project.config.timezone)
    why = why_request(project, customer_id, moment, days=DEFAULT_DAYS, past=DEFAULT_PAST)
    sent_since = sends_counted_from(why.past.start, project.config)
    facts = await store.load_facts(customer_ids=[customer_id], sent_since=sent_since)
    if not facts:
        return None
    for window in (why.past, why.future):  # each period planned alone, as the story does
        planner = Planner(project.rules, window=window, config=project.config, now=now)
        planned = await asyncio.to_thread(planner.plan, facts)
        for tp in planned:
            if tp.key == key:
                return tp
    return None


async def message_view(engine: Engine, customer_id: str, key: str) -> MessageView | None:
    """The message of touchpoint ``key`` as it would go out now; None: no such touchpoint."""
    project, store, now = engine.project, engine.store, engine.clock.now()
    tp = await find_touchpoint(project, store, customer_id, key, now)
    if tp is None:
        return None
    rows = [r for r in await store.list_outbox(customer_id=customer_id) if r.key == key]
    row = rows[0] if rows else None
    built = build(project, tp, date=now)  # what ``envelope`` sends is ``built.email.data``
    tp = built.touchpoint  # held with the reason if it cannot be rendered or composed
    if built.email is not None:
        return _parsed(tp, row, built.email.data)
    if built.message is None:
        return MessageView(touchpoint=tp, row=row)
    rendered = built.message  # a text, or no address: the parts alone
    text = rendered.sms if rendered.sms is not None else rendered.text
    return MessageView(
        touchpoint=tp, row=row, subject=rendered.subject, text=text, html=rendered.html
    )


def _parsed(tp: PlannedTouchpoint, row: OutboxRow | None, data: bytes) -> MessageView:
    parsed = BytesParser(policy=default).parsebytes(data)
    assert isinstance(parsed, EmailMessage)
    plain, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    head = data.split(b"\r\n\r\n", 1)[0]
    return MessageView(
        touchpoint=tp, row=row, sendable=tp.status is Status.PLANNED,
        headers=tuple((name, str(value)) for name, value in parsed.items()),
        source=head.decode("ascii", "replace").replace("\r\n", "\n"),
        subject=str(parsed.get("Subject", "")),
        text=_content(plain), html=_content(html) if html is not None else None,
    )  # fmt: skip


def _content(part: object) -> str:
    if not isinstance(part, EmailMessage):
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""
