"""The formatting filters: dates, times, weekdays and money in the customer's locale and zone.

Values may be aware datetimes, dates or ISO 8601 strings (a date-time string needs an
offset)::

    {{ event.data.starts_at | datetime }}      medium: "01.05.2024, 16:30:00"
    {{ event.data.starts_at | date("full") }}  short, medium, long, full ...
    {{ event.data.starts_at | time("HH:mm") }} ... or a CLDR pattern
    {{ event.data.starts_at | weekday }}       "Mittwoch"
    {{ event.data.price | money("EUR") }}      "12,50 €"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import babel
import babel.dates
import babel.numbers
import jinja2
from jinja2.runtime import Context

# Injected by render() for the filters; never available to template authors.
RESERVED_NAMES = frozenset({"_tf_locale", "_tf_timezone"})


class FilterError(ValueError):
    """A filter got a value it cannot format; becomes a RenderError with the line."""


def _settings(ctx: Context) -> tuple[babel.Locale, ZoneInfo]:
    locale, zone = ctx.get("_tf_locale"), ctx.get("_tf_timezone")
    if not isinstance(locale, babel.Locale) or not isinstance(zone, ZoneInfo):
        raise FilterError("formatting filters only work in templates rendered by touchflow")
    return locale, zone


def _defined(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return value


def _instant(value: Any, what: str) -> date | datetime:
    value = _defined(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)
        except ValueError:
            raise FilterError(f"{what}: {value!r} is not an ISO 8601 date or date-time") from None
    if isinstance(value, datetime) and value.utcoffset() is None:
        # Without an offset we cannot know which hour it is in the customer's zone.
        raise FilterError(f"{what}: {value.isoformat()} has no UTC offset; add one like +00:00")
    if not isinstance(value, date):  # datetime is a date too
        kind = type(value).__name__
        raise FilterError(f"{what}: expects a date, a date-time or an ISO 8601 string, not {kind}")
    return value


def _moment(value: Any, what: str) -> datetime:
    instant = _instant(value, what)
    if not isinstance(instant, datetime):
        raise FilterError(f"{what}: needs a date and time, got the date {instant.isoformat()}")
    return instant


def _local_date(value: Any, zone: ZoneInfo, what: str) -> date:
    instant = _instant(value, what)
    return instant.astimezone(zone).date() if isinstance(instant, datetime) else instant


@jinja2.pass_context
def _date_filter(ctx: Context, value: Any, format: str = "medium") -> str:
    locale, zone = _settings(ctx)
    return babel.dates.format_date(_local_date(value, zone, "date"), format, locale=locale)


@jinja2.pass_context
def _weekday_filter(ctx: Context, value: Any) -> str:
    locale, zone = _settings(ctx)
    return babel.dates.format_date(_local_date(value, zone, "weekday"), "EEEE", locale=locale)


@jinja2.pass_context
def _time_filter(ctx: Context, value: Any, format: str = "short") -> str:
    locale, zone = _settings(ctx)
    return babel.dates.format_time(_moment(value, "time"), format, tzinfo=zone, locale=locale)


@jinja2.pass_context
def _datetime_filter(ctx: Context, value: Any, format: str = "medium") -> str:
    locale, zone = _settings(ctx)
    moment = _moment(value, "datetime")
    return babel.dates.format_datetime(moment, format, tzinfo=zone, locale=locale)


@jinja2.pass_context
def _money_filter(ctx: Context, value: Any, currency: str) -> str:
    value, currency = _defined(value), _defined(currency)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise FilterError(f"money: {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise FilterError(f"money: expects a number, not {type(value).__name__}")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise FilterError(f"money: the currency must be a code like 'EUR', not {currency!r}")
    return babel.numbers.format_currency(value, currency, locale=_settings(ctx)[0])


FILTERS: Mapping[str, Callable[..., str]] = {
    "date": _date_filter,
    "time": _time_filter,
    "datetime": _datetime_filter,
    "weekday": _weekday_filter,
    "money": _money_filter,
}
