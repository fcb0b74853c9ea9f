"""Charts drawn on the server as SVG: nothing to download, nothing for a script to fail on, and
the page carries the same numbers in a table for screen readers.

A chart library in the browser (Plotly's 4.6 MB bundle) would buy zooming, which a five-level
state history does not need.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from training.features import STATES

WIDTH = 640
HEIGHT = 220
LEFT = 90
"""Room for the state names on the y axis."""
RIGHT = 16
TOP = 12
BOTTOM = 34


@dataclass(frozen=True)
class Axes:
    """A chart's frame: grid lines with their labels on the left, times along the bottom
    (`templates/charts.html` draws it)."""

    y_labels: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT


@dataclass(frozen=True)
class StepChart:
    """A customer's state over time as a step line: the SVG path and its axes."""

    path: str
    points: list[tuple[float, float, str, str]]
    """(x, y, state, when) of each change, for markers and their tooltips."""
    axes: Axes


def _y(state: str) -> float:
    rank = STATES.index(state) if state in STATES else 0
    step = (HEIGHT - TOP - BOTTOM) / (len(STATES) - 1)
    return round(HEIGHT - BOTTOM - rank * step, 1)


def state_history_chart(changes: list[tuple[datetime, str]], now: datetime) -> StepChart | None:
    """The chart of `changes` (time, state entered), oldest first, drawn on to `now`; None
    without any change."""
    if not changes:
        return None
    start = changes[0][0]
    end = max(now, changes[-1][0])
    span = (end - start).total_seconds() or 1.0

    def x(when: datetime) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * (when - start).total_seconds() / span, 1)

    points = [(x(when), _y(state), state, when.strftime("%Y-%m-%d")) for when, state in changes]
    segments = [f"M{points[0][0]},{points[0][1]}"]
    for px, py, _, _ in points[1:]:
        segments.append(f"H{px}V{py}")
    segments.append(f"H{x(end)}")
    middle = start + (end - start) / 2
    return StepChart(
        path="".join(segments),
        points=points,
        axes=Axes(
            y_labels=[(_y(state), state) for state in STATES],
            x_labels=[(x(when), when.strftime("%Y-%m-%d")) for when in (start, middle, end)],
        ),
    )


@dataclass(frozen=True)
class LineChart:
    """Counts per state over time as one line per state: SVG points and the axes."""

    lines: list[tuple[str, str]]
    """(state, the polyline's points)."""
    axes: Axes


def trend_chart(points: list[tuple[datetime, dict[str, int]]]) -> LineChart | None:
    """The chart of customers per state at each time of `points` (oldest first); None with
    fewer than two points (one point is no trend)."""
    if len(points) < 2:
        return None
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds() or 1.0
    top = max((n for _, counts in points for n in counts.values()), default=0) or 1
    inner = HEIGHT - TOP - BOTTOM

    def x(when: datetime) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * (when - start).total_seconds() / span, 1)

    def y(n: float) -> float:
        return round(HEIGHT - BOTTOM - inner * n / top, 1)

    lines = [
        (state, " ".join(f"{x(when)},{y(counts.get(state, 0))}" for when, counts in points))
        for state in STATES
    ]
    return LineChart(
        lines=lines,
        axes=Axes(
            y_labels=[(y(n), f"{n:,}") for n in (0, top // 2, top)],
            x_labels=[(x(when), when.strftime("%Y-%m-%d")) for when in (start, end)],
        ),
    )


RELIABILITY_WIDTH = 420
RELIABILITY_HEIGHT = 360
RELIABILITY_LEFT = 48
"""Room for the percentages on the y axis."""


@dataclass(frozen=True)
class ReliabilityChart:
    """A reliability diagram: per confidence bin, the share right against the confidence, with
    the diagonal a perfectly calibrated model would follow."""

    diagonal: tuple[float, float, float, float]
    """(x1, y1, x2, y2) of the diagonal."""
    line: str
    """The bins' polyline points."""
    points: list[tuple[float, float, str]]
    """(x, y, what the bin says) of each bin, for markers and their tooltips."""
    axes: Axes


def reliability_chart(bins: list[dict[str, float]]) -> ReliabilityChart | None:
    """The diagram of `reliability_bins` (confidence, accuracy, count), lowest confidence
    first; None without a bin."""
    if not bins:
        return None
    right = RELIABILITY_WIDTH - RIGHT
    bottom = RELIABILITY_HEIGHT - BOTTOM

    def x(share: float) -> float:
        return round(RELIABILITY_LEFT + (right - RELIABILITY_LEFT) * share, 1)

    def y(share: float) -> float:
        return round(bottom - (bottom - TOP) * share, 1)

    points = [
        (
            x(b["confidence"]),
            y(b["accuracy"]),
            f"{int(b['count']):,} customers: {b['confidence']:.0%} sure, {b['accuracy']:.0%} right",
        )
        for b in bins
    ]
    ticks = (0.0, 0.25, 0.5, 0.75, 1.0)
    return ReliabilityChart(
        diagonal=(x(0.0), y(0.0), x(1.0), y(1.0)),
        line=" ".join(f"{px},{py}" for px, py, _ in points),
        points=points,
        axes=Axes(
            y_labels=[(y(t), f"{t:.0%}") for t in ticks],
            x_labels=[(x(t), f"{t:.0%}") for t in ticks],
            width=RELIABILITY_WIDTH,
            height=RELIABILITY_HEIGHT,
            left=RELIABILITY_LEFT,
            right_edge=right,
        ),
    )
