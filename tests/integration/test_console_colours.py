"""The calendar's and the day's sends in colour, by category or by rule, in-process.

The daemon's real app over httpx (tests/http_support.py) on the console's test project
plus a coupon (marketing): each day's bar carries a titled segment per category or rule,
the legend counts the shown weeks, and what the legend and the titles show is escaped.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from console_support import CUSTOMERS, console_events, counted_page
from http_support import Setup, http_api, write_http_project
from markupsafe import escape
from test_console import session

from touchflow.console.render import environment
from touchflow.console.split import Bar, Segment, Split, SplitBy, Swatch
from touchflow.errors import TouchflowError
from touchflow.project import load_project_checked

COUPON = {
    "id": "k1", "type": "coupon_issued", "customer": "c1",
    "at": "{{ at(days=0, time='07:00', tz='UTC') }}",
    "data": {"coupon_code": "K-1", "expires_at": "{{ at(days=5, time='12:00', tz='UTC') }}"},
}  # fmt: skip
COUPON_DAY = "2026-11-27"  # the coupon expires on the 28th; it is sent a day before
DAY_CELL = re.compile(
    r'href="/console/day/(\d{4}-\d\d-\d\d)(?:\?by=rule)?">\s*<span class="date">[^<]*</span>\s*'
    r'<span class="sends">(\d+) sends?</span>(.*?)</a>',
    re.S,
)
LEGEND = re.compile(r'<span class="swatch (hue-\w+)" aria-hidden="true"></span><code>([^<]+)'
                    r"</code>: (\d+)</li>")  # fmt: skip
SEGMENT = re.compile(r'<rect class="(hue-\w+)"[^>]*><title>([^<]+): (\d+)</title></rect>')


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Setup]:
    events = [*console_events(), COUPON]
    async with http_api(tmp_path, customers=CUSTOMERS, events=events) as setup:
        yield setup


def days_of(page: str) -> dict[str, tuple[int, list[tuple[str, str, int]]]]:
    """Each day of the grid: its total (the cell's text) and its bar's (hue, title, count)."""
    return {
        day: (int(total), [(hue, what, int(n)) for hue, what, n in SEGMENT.findall(cell)])
        for day, total, cell in DAY_CELL.findall(page)
    }


def legend_of(page: str) -> dict[str, tuple[str, int]]:
    return {what: (hue, int(n)) for hue, what, n in LEGEND.findall(page)}


async def test_by_category_each_day_s_bar_and_the_legend_add_up_to_the_days(api: Setup) -> None:
    page = await counted_page(api.client, "/console/", await session(api.client))
    days, legend = days_of(page), legend_of(page)
    assert legend == {"transactional": ("hue-0", 3), "marketing": ("hue-1", 1)}
    assert sum(total for total, _ in days.values()) == 4
    assert "<strong>4</strong> sends planned" in page
    for total, segments in days.values():
        assert sum(n for _, _, n in segments) == total
    assert days["2026-11-24"] == (2, [("hue-0", "transactional", 2)])  # Ana's and Eve's reminders
    assert days[COUPON_DAY] == (1, [("hue-1", "marketing", 1)])
    assert 'aria-label="transactional 2"' in page  # the bar in words
    assert '<a href="/console/?weeks=4" aria-current="true">category</a>' in page
    assert 'href="/console/day/2026-11-24"' in page  # days open in the same colours


async def test_by_rule_the_segments_name_the_rules_and_the_toggle_keeps_the_weeks(
    api: Setup,
) -> None:
    cookie = await session(api.client)
    page = await counted_page(api.client, "/console/?weeks=2&by=rule", cookie)
    days, legend = days_of(page), legend_of(page)
    # The most sending rule first; a tie by id; ack answered before now: not in the weeks.
    assert legend == {"reminder": ("hue-0", 2), "coupon": ("hue-1", 1), "late-ok": ("hue-2", 1)}
    assert sum(n for _, n in legend.values()) == sum(total for total, _ in days.values())
    assert days["2026-11-23"] == (1, [("hue-2", "late-ok", 1)])
    assert days["2026-11-24"] == (2, [("hue-0", "reminder", 2)])
    assert days[COUPON_DAY] == (1, [("hue-1", "coupon", 1)])
    assert 'href="/console/day/2026-11-24?by=rule"' in page
    assert '<a href="/console/?weeks=2&amp;by=rule" aria-current="true">rule</a>' in page
    assert '<input type="hidden" name="by" value="rule">' in page  # "Show" keeps the colours


async def test_a_day_s_hours_are_split_the_same_way(api: Setup) -> None:
    cookie = await session(api.client)
    page = await counted_page(api.client, "/console/day/2026-11-24?by=rule", cookie)
    assert legend_of(page) == {"reminder": ("hue-0", 2)}
    assert SEGMENT.findall(page) == [("hue-0", "reminder", "2")]  # both at 13:00 in Berlin
    assert '<a href="/console/?by=rule">Back to the calendar</a>' in page
    by_category = await counted_page(api.client, "/console/day/2026-11-24", cookie)
    assert legend_of(by_category) == {"transactional": ("hue-0", 2), "marketing": ("hue-1", 0)}


@pytest.mark.parametrize("path", ["/console/?by=colour", "/console/day/2026-11-24?by=RULE"])
async def test_an_unknown_split_is_a_400_page_naming_the_choices(api: Setup, path: str) -> None:
    answer = await api.client.get(path, headers=await session(api.client))
    assert answer.status_code == 400
    assert "by must be one of category, rule." in answer.text


HOSTILE = ["<script>alert(1)</script>", "a\"b'c", "x&y"]


def test_the_legend_and_the_titles_escape_what_they_show() -> None:
    """Rule ids cannot hold markup (the loader refuses them, below) and categories are
    fixed words; should either ever carry some, the page shows it as text."""
    swatches = tuple(Swatch(label=t, hue=f"hue-{i}", count=1) for i, t in enumerate(HOSTILE))
    other = Swatch(label="other rules", hue="hue-other", count=1, members=tuple(HOSTILE))
    segments = tuple(Segment(label=t, hue="hue-0", count=1, x=0, width=1) for t in HOSTILE)
    bar = Bar(total=3, segments=segments)
    chosen = Split(by=SplitBy.RULE, legend=(*swatches, other), bars={})
    text = (
        environment()
        .from_string('{% import "_split.html" as c %}{{ c.legend(split, "now") }}{{ c.bar(bar) }}')
        .render(split=chosen, bar=bar)
    )
    assert "<script" not in text and 'a"b' not in text and "a'b" not in text
    for hostile in HOSTILE:
        assert f"<code>{escape(hostile)}</code>: 1" in text
        assert f"<title>{escape(hostile)}: 1</title>" in text
    assert f'aria-label="{escape(bar.words)}"' in text


@pytest.mark.parametrize("rule_id", ["<script>alert(1)</script>", 'a"b'])
def test_a_rule_id_with_markup_is_refused_where_it_is_loaded(tmp_path: Path, rule_id: str) -> None:
    root = write_http_project(tmp_path)
    rules = root / "rules" / "rules.yaml"
    quoted = rule_id.replace("\\", "\\\\").replace('"', '\\"')
    rules.write_text(
        rules.read_text(encoding="utf-8").replace("- id: ack\n", f'- id: "{quoted}"\n', 1)
    )
    with pytest.raises(TouchflowError, match="must be lower-case letters"):
        load_project_checked(root)
