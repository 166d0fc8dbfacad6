"""A calendar's sends split by category or by rule: the legend's colours and each bar's segments.

Pure, and drawn from counts the forecast keeps anyway (each day's or hour's ``Group``
holds its planned sends per rule and per category), so a split costs the page a loop
over the days shown, never a count. Colours are classes of the stylesheet (``hue-0`` …
``hue-6``, ``hue-other``): the Okabe-Ito palette, told apart with the common kinds of
colour blindness. A category keeps its colour; rules are coloured by their sends over
the period shown, the most first, and when more rules send than the palette has
colours, the rest share ``hue-other``, which the legend names. Colour is never alone:
the legend and every segment's title say what and how many.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from touchflow.models import Category
from touchflow.plan.forecast_summary import Group

HUES = 7  # distinct colours for rules: Okabe-Ito without black
OTHER = "hue-other"
WIDTH = 100.0  # a bar's full width in the SVG's own units (its viewBox)
# The SVG's white track is a little larger than the bar (x from -1 to WIDTH + 1, the bar's
# segments a little lower than it is high), so a full bar keeps a frame on the day's shade.


class SplitBy(enum.StrEnum):
    """What the colours tell apart: ``?by=``."""

    CATEGORY = "category"
    RULE = "rule"


@dataclass(frozen=True, slots=True, kw_only=True)
class Swatch:
    """One colour of the legend: what it stands for and its sends over the period."""

    label: str  # a category, a rule id, or "other rules"
    hue: str  # the stylesheet's class
    count: int
    members: tuple[str, ...] = ()  # the rules sharing the other colour


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    label: str
    hue: str
    count: int
    x: float  # in the SVG's units, 0 to WIDTH, to a thousandth (as the page writes it)
    width: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    """A day's (or an hour's) sends as a stacked bar: its length against the fullest."""

    total: int
    segments: tuple[Segment, ...]

    @property
    def words(self) -> str:
        """The bar said in words (its accessible name)."""
        return ", ".join(f"{s.label} {s.count}" for s in self.segments) or "no sends"


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    by: SplitBy
    legend: tuple[Swatch, ...]
    bars: Mapping[str, Bar]  # by the group's label (a local day or hour)


def parts(group: Group, by: SplitBy) -> Mapping[str, int]:
    """A group's planned sends per category (both, always) or per rule (those with some)."""
    if by is SplitBy.CATEGORY:
        return {
            Category.TRANSACTIONAL.value: group.transactional,
            Category.MARKETING.value: group.marketing,
        }
    return group.rules


def legend(groups: Iterable[Group], by: SplitBy) -> tuple[Swatch, ...]:
    """The colours of ``groups`` (the period shown) with their sends over it."""
    sums: Counter[str] = Counter()
    for group in groups:
        sums.update(parts(group, by))
    if by is SplitBy.CATEGORY:
        return tuple(Swatch(label=c.value, hue=_hue(i), count=sums[c.value]) for i, c in
                     enumerate((Category.TRANSACTIONAL, Category.MARKETING)))  # fmt: skip
    ranked = sorted((item for item in sums.items() if item[1] > 0), key=lambda i: (-i[1], i[0]))
    if len(ranked) <= HUES:
        return tuple(Swatch(label=r, hue=_hue(i), count=n) for i, (r, n) in enumerate(ranked))
    own = [Swatch(label=r, hue=_hue(i), count=n) for i, (r, n) in enumerate(ranked[: HUES - 1])]
    rest = ranked[HUES - 1 :]
    other = Swatch(
        label="other rules", hue=OTHER, count=sum(n for _, n in rest),
        members=tuple(sorted(r for r, _ in rest)),
    )  # fmt: skip
    return (*own, other)


def bar(group: Group, by: SplitBy, swatches: tuple[Swatch, ...], most: int) -> Bar:
    """``group``'s sends in the legend's colours and order; full width is ``most`` sends."""
    counts = parts(group, by)
    segments: list[Segment] = []
    x = 0.0
    for swatch in swatches:
        names = swatch.members or (swatch.label,)
        n = sum(counts.get(name, 0) for name in names)
        if n > 0 and most > 0:
            end = round(x + WIDTH * n / most, 3)
            segments.append(
                Segment(label=swatch.label, hue=swatch.hue, count=n, x=x, width=round(end - x, 3))
            )
            x = end
    return Bar(total=sum(s.count for s in segments), segments=tuple(segments))


def split(groups: Iterable[Group], by: SplitBy) -> Split:
    """The legend of ``groups`` and each one's bar, the fullest the whole width."""
    groups = tuple(groups)
    swatches = legend(groups, by)
    most = max((g.planned for g in groups), default=0)
    return Split(by=by, legend=swatches, bars={g.label: bar(g, by, swatches, most) for g in groups})


def _hue(index: int) -> str:
    return f"hue-{index}"
