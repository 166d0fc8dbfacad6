"""A forecast for people: a calendar heat map of the days, bars, the rules, the checks.

Counts are planned touchpoints unless a column says held. Colour only adds to the
numbers (a heat map's shades), so the text reads the same in a pipe or a log.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from touchflow.durations import period_text
from touchflow.plan.forecast import GroupBy
from touchflow.plan.forecast_summary import Forecast, Group, Peak
from touchflow.plan.forecast_views import rate_words
from touchflow.plan.preview import window_text
from touchflow.words import counted

BAR_WIDTH = 40
SHADES = ("on #0e4429", "on #006d32", "on #26a641", "on #39d353")  # fewer to more


def print_forecast(fc: Forecast, console: Console) -> None:
    request = fc.request
    span = window_text(request.window, request.timezone)
    reached = f"{fc.reached:,} of {counted(fc.customers, 'customer')}"
    console.print(f"Forecast {span}{_filters(fc)}:")
    console.print(f"{fc.planned:,} planned to {reached}, {fc.held:,} held")
    if request.by is GroupBy.DAY:
        print_heat_map(fc.groups, console)
    else:
        console.print(_bars(f"Per {request.by.value}", list(fc.groups), held=True))
    if len(fc.peak_days) > 1:  # one day with sends: the rows above say it all
        console.print(_bars("Peak days", _as_groups(fc.peak_days)))
    if fc.peak_hours and request.by is not GroupBy.HOUR:
        console.print(_bars("Peak hours", _as_groups(fc.peak_hours)))
    if fc.planned or fc.held:
        console.print(_rules(fc))
    else:
        console.print("Nothing is due in this window. Try more --days, or fewer filters.")
    _checks(fc, console)


def _filters(fc: Forecast) -> str:
    request = fc.request
    named = [_customers(request.customers), f"rule {request.rule}" if request.rule else ""]
    named.append(f"category {request.category.value}" if request.category else "")
    shown = ", ".join(n for n in named if n)
    return f" (only {shown})" if shown else ""


def _customers(ids: Sequence[str]) -> str:
    if len(ids) > 3:
        return f"{len(ids):,} customers"
    return f"customer{'s' if len(ids) > 1 else ''} {', '.join(ids)}" if ids else ""


def print_heat_map(days: Sequence[Group], console: Console) -> None:
    """One calendar per month (weeks from Monday), each day's planned sends in its cell,
    shaded by how full the day is against the fullest."""
    by_day = {date.fromisoformat(g.label): g.planned for g in days}
    if not by_day:
        return
    most = max(by_day.values())
    month = min(by_day).replace(day=1)
    while month <= max(by_day):
        console.print(_month(month, by_day, most))
        month = (month + timedelta(days=32)).replace(day=1)


def _month(month: date, by_day: dict[date, int], most: int) -> Table:
    table = Table(title=f"{month:%B %Y}", title_justify="left", show_lines=False)
    for name in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
        table.add_column(name, justify="left", no_wrap=True)
    for week in calendar.Calendar().monthdatescalendar(month.year, month.month):
        if not any(day in by_day and day.month == month.month for day in week):
            continue  # a week of this month wholly outside the window
        cells = [_cell(day, by_day, most) if day.month == month.month else Text("") for day in week]
        table.add_row(*cells)
    return table


def _cell(day: date, by_day: dict[date, int], most: int) -> Text:
    """The day of the month, dim, and its sends: ``24 1,250`` (``24 ·`` for none)."""
    if day not in by_day:
        return Text("")  # outside the window
    n = by_day[day]
    cell = Text(f"{day.day:>2} ", style="dim")
    if n == 0:
        return cell.append("·", style="dim")
    shade = SHADES[min(len(SHADES) - 1, (n * len(SHADES) - 1) // most)]
    return cell.append(f"{n:,}", style=f"bold {shade}")


def _as_groups(peaks: Sequence[Peak]) -> list[Group]:
    return [
        Group(
            label=p.label,
            start=p.start,
            planned=p.planned,
            held=0,
            marketing=0,
            transactional=0,
            rules={},
        )
        for p in peaks
    ]


def _bars(title: str, groups: list[Group], *, held: bool = False) -> Table:
    """A bar per group, as long as its planned sends against the fullest group's."""
    table = Table(title=title, title_justify="left")
    table.add_column(title.split()[-1].rstrip("s"), no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("planned", justify="right")
    if held:
        table.add_column("held", justify="right")
    most = max((g.planned for g in groups), default=0)
    for g in groups:
        width = 0 if most == 0 else max(1 if g.planned else 0, g.planned * BAR_WIDTH // most)
        row = [g.label, "█" * width, f"{g.planned:,}"]
        table.add_row(*row, *([f"{g.held:,}"] if held else []))
    return table


def _rules(fc: Forecast) -> Table:
    table = Table(title="Per rule", title_justify="left")
    for column in ("rule", "category", "planned", "held"):
        justify: Literal["left", "right"] = "right" if column == "planned" else "left"
        table.add_column(column, overflow="fold", justify=justify)
    for line in fc.rules:
        if not line.planned and not line.held:
            continue  # nothing due in the window (the JSON lists every rule)
        held = ", ".join(f"{n:,} {why}" for why, n in line.held.items())
        table.add_row(line.rule, line.category, f"{line.planned:,}", held or "—")
    return table


def _checks(fc: Forecast, console: Console) -> None:
    """The held counts by reason, the rate limit, the customers over the frequency: a line
    each, run on rather than broken mid-phrase (for people, and for grep)."""
    held = ", ".join(f"{n:,} {why}" for why, n in fc.held_by_reason.items())
    console.print(f"Held: {held or 'none'}", soft_wrap=True)
    words = rate_words(fc.rate)
    style = "bold red" if words.startswith("warning") else ""
    console.print(Text(f"Rate: {words}", style=style), soft_wrap=True)
    crowding = fc.crowding
    if crowding is None:
        line = "Frequency: no marketing cap configured; --over N counts customers over N"
    else:
        frequency = crowding.frequency
        how = "the marketing cap" if frequency.source == "caps" else "--over"
        line = (
            f"Frequency: {counted(crowding.customers_over, 'customer')} get more than "
            f"{frequency.limit} marketing messages in {period_text(frequency.period)} ({how})"
        )
    console.print(line, soft_wrap=True)
