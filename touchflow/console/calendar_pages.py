"""``/console/`` (the calendar) and ``/console/day/YYYY-MM-DD`` (one day's hours and sends)."""

from __future__ import annotations

import re

from starlette.responses import Response

from touchflow.console.calendar import counts, held_reasons, month
from touchflow.console.visit import Visit
from touchflow.models import Window
from touchflow.plan.forecast import GroupBy
from touchflow.plan.from_store import PlanRequest, plan_from_store
from touchflow.plan.moment import BadMoment, Moment, read_moment

DEFAULT_WEEKS = 4
MAX_WEEKS = 26
SHOWN = 200  # touchpoints listed on a day's page; the hours count them all
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


async def calendar_page(visit: Visit) -> Response:
    text = visit.request.query_params.get("weeks", str(DEFAULT_WEEKS))
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_WEEKS):
        message = f"weeks must be a whole number from 1 to {MAX_WEEKS}, not {text!r}."
        return visit.show("problem.html", 400, title="Calendar", message=message)
    weeks = int(text)
    engine = visit.backing.engine
    now = Moment(instant=engine.clock.now(), timezone=visit.tz)
    shown = await month(engine.project, engine.store, now.window(weeks * 7))
    return visit.show(
        "calendar.html", title="Calendar", month=shown, weeks=weeks,
        held=held_reasons(shown.forecast), now=now.instant,
    )  # fmt: skip


async def day_page(visit: Visit) -> Response:
    text = visit.request.path_params["day"]
    try:
        if not _DAY.fullmatch(text):
            raise BadMoment(f"{text!r} is not a day; write it as YYYY-MM-DD")
        window = read_moment(text, visit.tz).window(1)
    except BadMoment as exc:
        return visit.show("problem.html", 404, title="No such day", message=str(exc))
    engine = visit.backing.engine
    now = engine.clock.now()
    if window.end <= now:
        message = f"{text} is over: the calendar shows what is still to come."
        return visit.show("problem.html", 404, title="A past day", message=message)
    window = Window(start=max(window.start, now), end=window.end)
    hours = await counts(engine.project, engine.store, window, GroupBy.HOUR)
    planned = await plan_from_store(engine.project, engine.store, PlanRequest(window=window))
    return visit.show(
        "day.html", title=f"Sends on {text}", day=text, hours=hours,
        touchpoints=planned[:SHOWN], total=len(planned), shown_most=SHOWN,
        held=held_reasons(hours),
    )  # fmt: skip
