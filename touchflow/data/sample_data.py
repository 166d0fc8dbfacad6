"""Sample data whose dates are relative to the day it is loaded.

A project's ``sample/`` holds ``customers.jsonl``, ``events.jsonl`` and maybe
``suppressions.jsonl``. Each is a Jinja template first (``{{ ago(years=34,
days=3) }}``: a birthday in three days), so a demo always has something due.
Everything is rendered and checked before the first write to the store.
"""

from __future__ import annotations

import functools
import json
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from touchflow.data.customers import parse_customers_text
from touchflow.data.events import parse_events_text
from touchflow.data.fields import zone_problem
from touchflow.data.readers import raise_problems
from touchflow.data.suppressions import parse_suppressions_text
from touchflow.errors import InputError, Problem
from touchflow.models import Customer, FieldType, Suppression
from touchflow.store import Store
from touchflow.timecalc import resolve_local

CUSTOMERS_FILE = "customers.jsonl"
EVENTS_FILE = "events.jsonl"
SUPPRESSIONS_FILE = "suppressions.jsonl"  # optional
META_LOADED_AT = "sample_loaded_at"
# Which rows are the sample's, by id (and address, scope): they stay recognised when
# someone edits a sample customer, and `touchflow sample --remove` deletes just them.
META_CUSTOMERS = "sample_customers"
META_SUPPRESSIONS = "sample_suppressions"


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleSummary:
    customers: int
    events: int
    suppressions: int


def template_helpers(now: datetime) -> dict[str, Any]:
    """The names a sample file may use, all relative to ``now`` (aware)."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    today = now.date()

    def date_(days: int = 0) -> str:
        return (today + timedelta(days=days)).isoformat()

    def ago(years: int = 0, days: int = 0) -> str:
        return (_years_before(today, years) + timedelta(days=days)).isoformat()

    def at(
        days: int = 0, time: str | None = "10:00", tz: str = "UTC", hours: int = 0, minutes: int = 0
    ) -> str:
        return _at(now, days=days, clock=time, tz=tz, shift=timedelta(hours=hours, minutes=minutes))

    return {"today": today, "now": now.astimezone(UTC), "date": date_, "ago": ago, "at": at}


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # Feb 29 in a year without one
        return day.replace(year=day.year - years, day=28)


def _at(now: datetime, *, days: int, clock: str | None, tz: str, shift: timedelta) -> str:
    """ISO date-time in ``tz``: local ``clock`` on today+days there (or now+days), plus shift."""
    problem = zone_problem(tz)
    if problem is not None:
        raise ValueError(problem)
    zone = ZoneInfo(tz)
    if clock is None:
        instant = now + timedelta(days=days)
    else:
        try:
            local_time = time.fromisoformat(clock)
        except ValueError:
            raise ValueError(f'time "{clock}" is not a time like "10:00"') from None
        local_day = now.astimezone(zone).date() + timedelta(days=days)
        instant = resolve_local(local_day, local_time, zone)[0]  # the planner's DST rules
    # Shift the instant, not the wall clock: "2 hours later" across a DST change.
    return (instant.astimezone(UTC) + shift).astimezone(zone).isoformat()


def render_sample(text: str, *, display: str, helpers: Mapping[str, Any]) -> str:
    """Render one sample file; a template error becomes ``InputError`` at its line."""
    env = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,  # rendering must keep the file's line count
        autoescape=False,
        loader=jinja2.FunctionLoader(lambda name: (text, name, lambda: True)),
    )
    env.globals.update(helpers)
    try:
        return env.get_template(display).render()
    except jinja2.TemplateSyntaxError as exc:
        problem = Problem(path=display, line=exc.lineno, message=f"template: {exc.message}")
    # Helpers raise ValueError for bad arguments; Jinja raises its own errors.
    except (jinja2.TemplateError, ValueError, TypeError, ArithmeticError) as exc:
        message = f"template: {exc}"
        problem = Problem(path=display, line=_template_line(exc, display), message=message)
    raise InputError([problem])


def _template_line(exc: BaseException, display: str) -> int | None:
    # Jinja rewrites the traceback so template frames carry the template's name
    # and line; the innermost such frame is where the error happened.
    frames = traceback.extract_tb(exc.__traceback__)
    lines = [frame.lineno for frame in frames if frame.filename == display]
    return lines[-1] if lines else None


async def load_sample(
    store: Store,
    sample_dir: Path,
    *,
    now: datetime,
    attribute_types: Mapping[str, FieldType],
    data_types: Mapping[str, Mapping[str, FieldType]],
    country: str | None = None,
) -> SampleSummary:
    """Render, parse and check every sample file, and only then write them all.
    ``country`` (the project's) reads phone numbers in national form."""
    helpers = template_helpers(now)
    problems: list[Problem] = []
    found: dict[str, Any] = {"helpers": helpers, "problems": problems, "country": country}
    customers = _customers(sample_dir, attribute_types, **found)
    events = _parse_file(
        sample_dir / EVENTS_FILE,
        functools.partial(parse_events_text, data_types=data_types),
        helpers=helpers,
        problems=problems,
    )
    suppressions = _suppressions(sample_dir, **found)
    raise_problems(problems)
    await store.upsert_customers(customers, now=now)
    # A made-up history: each event as if recorded when it happened (one dated later
    # than now, when the sample is loaded), so a backtest of the sample replays it.
    recorded = [replace(e, recorded_at=min(e.at, now)) for e in events]
    await store.add_events(recorded, now=now)
    for suppression in suppressions:
        await store.add_suppression(suppression)
    await store.set_meta(META_LOADED_AT, now.isoformat())
    await mark_sample(store, [c.id for c in customers], suppressions)
    return SampleSummary(
        customers=len(customers), events=len(events), suppressions=len(suppressions)
    )


async def mark_sample(
    store: Store, customer_ids: Sequence[str], suppressions: Sequence[Suppression]
) -> None:
    """Remember which customers and suppressions are the sample's."""
    pairs = [[s.email.strip().lower(), s.scope.value] for s in suppressions]
    await store.set_meta(META_CUSTOMERS, json.dumps(sorted(customer_ids)))
    await store.set_meta(META_SUPPRESSIONS, json.dumps(pairs))


def parse_sample_records(
    sample_dir: Path,
    *,
    now: datetime,
    attribute_types: Mapping[str, FieldType],
    country: str | None = None,
) -> tuple[list[Customer], list[Suppression]]:
    """The sample's customers and suppressions as loaded relative to ``now``."""
    helpers = template_helpers(now)
    problems: list[Problem] = []
    found: dict[str, Any] = {"helpers": helpers, "problems": problems, "country": country}
    customers = _customers(sample_dir, attribute_types, **found)
    suppressions = _suppressions(sample_dir, **found)
    raise_problems(problems)
    return customers, suppressions


def _customers(
    sample_dir: Path,
    attribute_types: Mapping[str, FieldType],
    *,
    helpers: Mapping[str, Any],
    problems: list[Problem],
    country: str | None,
) -> list[Customer]:
    parse = functools.partial(
        parse_customers_text, attribute_types=attribute_types, country=country
    )
    return _parse_file(sample_dir / CUSTOMERS_FILE, parse, helpers=helpers, problems=problems)


def _suppressions(
    sample_dir: Path, *, helpers: Mapping[str, Any], problems: list[Problem], country: str | None
) -> list[Suppression]:
    path = sample_dir / SUPPRESSIONS_FILE  # optional
    if not path.exists():
        return []
    parse = functools.partial(parse_suppressions_text, country=country)
    return _parse_file(path, parse, helpers=helpers, problems=problems)


def _parse_file(
    path: Path,
    parse: Callable[..., list[Any]],
    *,
    helpers: Mapping[str, Any],
    problems: list[Problem],
) -> list[Any]:
    """Render and parse one file; on failure add its problems and return nothing."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        rendered = render_sample(text, display=str(path), helpers=helpers)
        # If a loop added lines, line numbers count the rendered text: say so.
        same_lines = rendered.count("\n") == text.count("\n")
        return parse(rendered, display=str(path) if same_lines else f"{path} (rendered)")
    except OSError as exc:
        problems.append(Problem(path=str(path), line=None, message=f"cannot read: {exc}"))
    except InputError as exc:
        problems.extend(exc.problems)
    return []
