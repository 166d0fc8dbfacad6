"""What the read-only routes share in reading their query: a bad value is a 422 naming
its field, and ``now`` is the daemon's clock unless the query gives one."""

from __future__ import annotations

from datetime import datetime

from touchflow.http.errors import ApiError, fail
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
