"""What the read-only routes share in reading their query: a bad value is a 422 naming
its field, and ``now`` is the daemon's clock unless the query gives one."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from touchflow.http.errors import ApiError, fail
from touchflow.models import Window
from touchflow.plan.moment import BadMoment, Moment, read_moment


def bad_query(field: str, message: str) -> ApiError:
    """The answer to a query parameter that cannot be used: 422, naming it."""
    return fail(422, "invalid_query", field, message)


def query_moment(now: str | None, tz_name: str, clock_now: datetime) -> Moment:
    """The moment the query's ``now`` names (in the project's zone), or the clock's."""
    if now is None:
        return Moment(instant=clock_now, timezone=tz_name)
    try:
        return read_moment(now, tz_name)
    except BadMoment as exc:
        raise bad_query("now", str(exc)) from None


def only_known(names: Iterable[str], known: Collection[str]) -> None:
    """A 422 for the first parameter the route does not take, listing those it does."""
    for name in names:
        if name not in known:
            listed = ", ".join(known)
            raise bad_query(name, f"unknown query parameter {name!r} (known: {listed})")


def query_window(now: str | None, days: int, tz_name: str, clock_now: datetime) -> Window:
    """``days`` from the query's ``now`` (local midnight of its day, as the CLI reads it),
    or from the clock's instant."""
    if now is None:
        return Window.of_days(clock_now, days)
    try:
        return read_moment(now, tz_name).window(days)
    except BadMoment as exc:
        raise bad_query("now", str(exc)) from None
