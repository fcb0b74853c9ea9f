"""The pages' three charts, drawn by matplotlib on the server (`app/web/svg_figures.py`) and
shown as `<img>` with an alt text; each page carries the same numbers in a table too.

The funnel's trend changes once a nightly run and the reliability diagram once a model, so
both are kept per data in a small bounded cache: a page view draws nothing when its data has
not changed. A customer's history is drawn on to the moment of the view, so it is drawn on
each view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from app.web.svg_figures import INK, LINK, MUTED, STATE_COLOURS, draw_svg
from training.features import STATES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDE = (5.4, 2.5)
"""Inches of the time charts (518 px): shown at that size, and narrower on a phone."""
WIDE_MARGINS = (0.95, 0.35, 0.45, 0.12)
"""Left for the state names or counts, bottom for the dates, right for the last date's half."""
SQUARE = (4.4, 4.2)
"""Inches of the reliability diagram."""
SQUARE_MARGINS = (0.75, 0.6, 0.3, 0.15)
"""Left and bottom for the percentages and the axis labels."""
CACHED = 16
"""Charts kept per kind: the trend's two windows over a few nightly runs, a few models."""
DAY = "%Y-%m-%d"
QUARTERS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""The reliability diagram's ticks on both axes."""

TrendPoints = tuple[tuple[datetime, tuple[int, ...]], ...]
"""(time, customers per state in `STATES` order), oldest first: hashable, a cache key."""
Bins = tuple[tuple[float, float, int], ...]
"""(confidence, accuracy, customers) per bin, lowest confidence first: a cache key."""


@dataclass(frozen=True)
class Chart:
    """A chart as the page shows it."""

    src: str
    """The SVG as a `data:` URI."""
    alt: str
    """What the chart says, for a screen reader or a browser that shows no images."""


def _days(when: datetime, start: datetime) -> float:
    """The time axis's unit: days since the chart's start."""
    return (when - start).total_seconds() / 86_400


def _time_axis(ax: Axes, start: datetime, end: datetime) -> None:
    """Dates at the start, middle and end along the bottom (an hour at least: an axis of no
    length is no axis)."""
    end = max(end, start + timedelta(hours=1))
    middle = start + (end - start) / 2
    ax.set_xlim(0, _days(end, start))
    ax.set_xticks(
        [_days(t, start) for t in (start, middle, end)],
        [t.strftime(DAY) for t in (start, middle, end)],
    )


def state_history_chart(changes: list[tuple[datetime, str]], now: datetime) -> Chart | None:
    """A step line of `changes` (time, state entered), oldest first, on to `now`, over the five
    states in funnel order, a marker in the state's colour at each change; None without any."""
    if not changes:
        return None
    start = changes[0][0]
    end = max(now, changes[-1][0])
    xs = [_days(when, start) for when, _ in changes]
    ys = [STATES.index(state) if state in STATES else 0 for _, state in changes]

    def draw(ax: Axes) -> None:
        ax.step([*xs, _days(end, start)], [*ys, ys[-1]], where="post", color=INK, gid="steps")
        for state in STATES:
            at = [(x, y) for x, y, (_, s) in zip(xs, ys, changes, strict=True) if s == state]
            if at:
                ax.plot(
                    *zip(*at, strict=True),
                    linestyle="none",
                    marker="o",
                    color=STATE_COLOURS[state],
                    gid=f"changes-{state}",
                    clip_on=False,
                )
        ax.set_yticks(range(len(STATES)), STATES)
        ax.set_ylim(-0.4, len(STATES) - 0.6)
        ax.grid(axis="y")
        _time_axis(ax, start, end)

    said = ", ".join(f"{when.strftime(DAY)} {state}" for when, state in changes)
    return Chart(draw_svg(WIDE, WIDE_MARGINS, draw), f"State over time: {said}.")


def trend_chart(points: list[tuple[datetime, dict[str, int]]]) -> Chart | None:
    """A line per state of the customers in it at each time of `points` (oldest first); None
    with fewer than two points (one point is no trend)."""
    if len(points) < 2:
        return None
    return _cached_trend(tuple((when, tuple(c.get(s, 0) for s in STATES)) for when, c in points))


def draw_trend(points: TrendPoints) -> Chart:
    """The trend chart of `points` (at least two), drawn anew: `trend_chart` caches it."""
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    xs = [_days(when, points[0][0]) for when, _ in points]

    def draw(ax: Axes) -> None:
        for i, state in enumerate(STATES):
            counts = [per_state[i] for _, per_state in points]
            ax.plot(xs, counts, color=STATE_COLOURS[state], gid=f"trend-{state}")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.set_ylabel("customers")
        ax.grid(axis="y")
        _time_axis(ax, points[0][0], points[-1][0])

    first, last = points[0], points[-1]
    moves = ", ".join(
        f"{state} {first[1][i]:,} to {last[1][i]:,}" for i, state in enumerate(STATES)
    )
    alt = (
        f"Customers per state at the end of each of {len(points)} days from "
        f"{first[0].strftime(DAY)} to {last[0].strftime(DAY)}: {moves}."
    )
    return Chart(draw_svg(WIDE, WIDE_MARGINS, draw), alt)


def reliability_chart(bins: list[dict[str, float]]) -> Chart | None:
    """The reliability diagram of `reliability_bins` (confidence, accuracy, count), lowest
    confidence first: the share right against the confidence per bin, with the diagonal a
    perfectly calibrated model follows; None without a bin."""
    if not bins:
        return None
    return _cached_reliability(
        tuple((b["confidence"], b["accuracy"], int(b["count"])) for b in bins)
    )


def draw_reliability(bins: Bins) -> Chart:
    """The reliability diagram of `bins` (at least one), drawn anew: `reliability_chart`
    caches it."""
    from matplotlib.ticker import PercentFormatter

    def draw(ax: Axes) -> None:
        ax.plot([0, 1], [0, 1], linestyle=(0, (6, 5)), color=MUTED, linewidth=1.2, gid="diagonal")
        ax.plot(
            [confidence for confidence, _, _ in bins],
            [accuracy for _, accuracy, _ in bins],
            marker="o",
            color=LINK,
            gid="bins",
        )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_ticks(QUARTERS)
            axis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        ax.set_xlabel("confidence shown")
        ax.set_ylabel("share right")
        ax.grid()

    below = sum(accuracy < confidence for confidence, accuracy, _ in bins)
    alt = (
        f"Reliability diagram of {len(bins)} confidence bands from {bins[0][0]:.0%} to "
        f"{bins[-1][0]:.0%} sure: {below} of them below the diagonal (right less often than "
        "they say), the others on or above it."
    )
    return Chart(draw_svg(SQUARE, SQUARE_MARGINS, draw), alt)


_cached_trend = lru_cache(maxsize=CACHED)(draw_trend)
_cached_reliability = lru_cache(maxsize=CACHED)(draw_reliability)
