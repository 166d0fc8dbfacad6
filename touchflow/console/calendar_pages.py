"""``/console/`` (the calendar) and ``/console/day/YYYY-MM-DD`` (one day's hours and sends).

Both plan everyone, which takes seconds at 100k customers: their counts are kept
(``touchflow.console.kept``), counted in a worker thread when first asked for or when
stale; until the first count is there the page says "counting…" and reloads itself.
``?by=rule`` (or ``category``, the default) chooses what the colours of the sends tell
apart (``touchflow.console.split``): drawn from the same kept count, it costs no other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from starlette.responses import Response

from touchflow.console.calendar import Month, counts, held_reasons, month
from touchflow.console.kept import MAX_AGE, RETRY_FAILED, Counter, Kept, Key
from touchflow.console.split import Split, SplitBy, split
from touchflow.console.visit import Visit
from touchflow.models import PlannedTouchpoint, Window
from touchflow.plan.forecast import GroupBy
from touchflow.plan.forecast_summary import Forecast
from touchflow.plan.from_store import PlanRequest, plan_from_store
from touchflow.plan.moment import BadMoment, Moment, read_moment
from touchflow.project import Project
from touchflow.store import Store

DEFAULT_WEEKS = 4
MAX_WEEKS = 26
SHOWN = 200  # touchpoints listed on a day's page; the hours count them all
REFRESH = 2  # seconds between the reloads of a "counting…" page
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DayCount:
    hours: Forecast
    touchpoints: tuple[PlannedTouchpoint, ...]  # the first SHOWN by due time
    total: int


async def calendar_page(kept: Kept, visit: Visit) -> Response:
    text = visit.request.query_params.get("weeks", str(DEFAULT_WEEKS))
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_WEEKS):
        message = f"weeks must be a whole number from 1 to {MAX_WEEKS}, not {text!r}."
        return visit.show("problem.html", 400, title="Calendar", message=message)
    if (by := _split_by(visit)) is None:
        return visit.show("problem.html", 400, title="Calendar", message=_BAD_BY)
    weeks = int(text)
    return await _kept_page(
        kept, visit, ("month", str(weeks)), partial(_month, weeks=weeks), "calendar.html",
        title="Calendar", weeks=weeks, by=by,
    )  # fmt: skip


async def day_page(kept: Kept, visit: Visit) -> Response:
    text = visit.request.path_params["day"]
    try:
        if not _DAY.fullmatch(text):
            raise BadMoment(f"{text!r} is not a day; write it as YYYY-MM-DD")
        window = read_moment(text, visit.tz).window(1)
    except BadMoment as exc:
        return visit.show("problem.html", 404, title="No such day", message=str(exc))
    if window.end <= visit.backing.engine.clock.now():
        message = f"{text} is over: the calendar shows what is still to come."
        return visit.show("problem.html", 404, title="A past day", message=message)
    if (by := _split_by(visit)) is None:
        return visit.show("problem.html", 400, title=f"Sends on {text}", message=_BAD_BY)
    return await _kept_page(
        kept, visit, ("day", text), partial(_day, window=window), "day.html",
        title=f"Sends on {text}", day=text, shown_most=SHOWN, by=by,
    )  # fmt: skip


_BAD_BY = f"by must be one of {', '.join(SplitBy)}."


def _split_by(visit: Visit) -> SplitBy | None:
    """``?by=``: what the colours tell apart (categories unless asked); None: neither."""
    text = visit.request.query_params.get("by", SplitBy.CATEGORY.value)
    try:
        return SplitBy(text)
    except ValueError:
        return None


async def _kept_page(
    kept: Kept, visit: Visit, key: Key, count: Counter, template: str, by: SplitBy,
    **values: object,
) -> Response:  # fmt: skip
    """The page of ``key``'s kept count, or "counting…" until there is one."""
    seen = await kept.look(visit.backing.engine, key, count)
    found = seen.counted
    if found is None or (found.error and seen.counting):  # a failed count is tried again
        title = str(values["title"])
        return visit.show("counting.html", title=title, refresh=REFRESH)
    if found.error:
        again = int(RETRY_FAILED.total_seconds())
        message = f"Counting failed: {found.error}. It is tried again {again} s after."
        return visit.show("problem.html", 503, title=str(values["title"]), message=message)
    return visit.show(
        template, 200, counted=found, counting=seen.counting, found=found.value,
        held=held(found.value), by=by, split=colours(found.value, by),
        max_age=int(MAX_AGE.total_seconds() // 60), **values,
    )  # fmt: skip


async def _month(project: Project, store: Store, now: datetime, *, weeks: int) -> Month:
    moment = Moment(instant=now, timezone=project.config.timezone)
    return await month(project, store, moment.window(weeks * 7))


async def _day(project: Project, store: Store, now: datetime, *, window: Window) -> DayCount:
    window = Window(start=max(window.start, now), end=window.end)
    hours = await counts(project, store, window, GroupBy.HOUR)
    planned = await plan_from_store(project, store, PlanRequest(window=window))
    return DayCount(hours=hours, touchpoints=tuple(planned[:SHOWN]), total=len(planned))


def colours(value: object, by: SplitBy) -> Split | None:
    """The sends of a kept count split ``by`` category or rule: a month's days, a day's hours."""
    if isinstance(value, Month):
        return split(value.forecast.groups, by)
    if isinstance(value, DayCount):
        return split(value.hours.groups, by)
    return None


def held(value: object) -> object:
    """The held touchpoints by reason of a kept count (for the templates)."""
    if isinstance(value, Month):
        return held_reasons(value.forecast)
    if isinstance(value, DayCount):
        return held_reasons(value.hours)
    return ()
