"""What a chart costs a page: matplotlib's drawing time per chart, against a baseline in the same
run.

Each of the pages' charts is drawn anew `--rounds` times, round-robin with two others: an empty
figure of the same size drawn through the same path (the baseline: the floor any matplotlib
figure pays, its canvas, axes and SVG writer) and the cached call a page makes when the chart's
data has not changed (the funnel's trend, the reliability diagram). The first chart in the
process, which imports matplotlib, is timed apart. The data is the pages' worst case: a
customer with 8 state changes, a trend of 90 nightly runs, 15 reliability bins.
Run: `.venv/bin/python -m benchmarks.bench_charts [--rounds 30]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from app.web import charts
from app.web.svg_figures import draw_svg
from training.features import STATES

NOW = datetime(2026, 12, 6, 3, tzinfo=UTC)
HISTORY = [
    (NOW - timedelta(days=80 - 10 * i), STATES[min(i, 7 - i) % len(STATES)]) for i in range(8)
]
TREND = [
    (NOW - timedelta(days=90 - i), {s: 20_000 * (k + 1) + 37 * i for k, s in enumerate(STATES)})
    for i in range(90)
]
BINS = [
    {"confidence": 0.25 + 0.05 * i, "accuracy": 0.22 + 0.05 * i, "count": 500.0} for i in range(15)
]
Draw = Callable[[], charts.Chart | str | None]


@dataclass
class Timed:
    """A chart's drawing, the same-sized empty figure, the cached call, and their times."""

    name: str
    draw: Draw
    baseline: Draw
    cached: Draw | None
    ms: dict[str, list[float]] = field(default_factory=lambda: {"draw": [], "base": [], "hit": []})
    size: int = 0

    def p(self, kind: str, percent: float) -> float:
        """A percentile of one kind of time, ms."""
        return float(np.percentile(self.ms[kind], percent)) if self.ms[kind] else float("nan")


def _empty(size: tuple[float, float], margins: tuple[float, float, float, float]) -> Draw:
    return lambda: draw_svg(size, margins, lambda _: None)


def subjects() -> list[Timed]:
    """The three charts with their baselines."""
    trend = tuple((when, tuple(n[s] for s in STATES)) for when, n in TREND)
    bins = tuple((b["confidence"], b["accuracy"], int(b["count"])) for b in BINS)
    wide = _empty(charts.WIDE, charts.WIDE_MARGINS)
    return [
        Timed(
            "customer's state history", lambda: charts.state_history_chart(HISTORY, NOW), wide, None
        ),
        Timed(
            "funnel trend, 90 runs",
            lambda: charts.draw_trend(trend),
            wide,
            lambda: charts.trend_chart(TREND),
        ),
        Timed(
            "reliability, 15 bins",
            lambda: charts.draw_reliability(bins),
            _empty(charts.SQUARE, charts.SQUARE_MARGINS),
            lambda: charts.reliability_chart(BINS),
        ),
    ]


def _ms(action: Draw) -> tuple[float, charts.Chart | str | None]:
    start = time.perf_counter()
    result = action()
    return (time.perf_counter() - start) * 1000, result


def measure(found: list[Timed], rounds: int) -> float:
    """Time every drawing `rounds` times, round-robin; the first chart's time (ms), with the
    import of matplotlib when nothing imported it before."""
    first, _ = _ms(found[0].draw)
    for _ in range(rounds):
        for timed in found:
            for kind, action in (("draw", timed.draw), ("base", timed.baseline)):
                ms, chart = _ms(action)
                timed.ms[kind].append(ms)
                if isinstance(chart, charts.Chart):
                    timed.size = len(chart.src)
            if timed.cached is not None:
                timed.ms["hit"].append(_ms(timed.cached)[0])
    return first


def report(found: list[Timed]) -> list[str]:
    """The results table, a line per chart."""
    width = max(len(t.name) for t in found) + 2
    lines = [
        f"{'chart':<{width}}{'p50 ms':>8}{'p95 ms':>8}  {'empty fig p50':>13}{'p95':>7}"
        f"  {'cached p50':>10}  {'data: URI':>10}"
    ]
    for t in found:
        hit = f"{t.p('hit', 50):>10.3f}" if t.ms["hit"] else f"{'-':>10}"
        lines.append(
            f"{t.name:<{width}}{t.p('draw', 50):>8.1f}{t.p('draw', 95):>8.1f}  "
            f"{t.p('base', 50):>13.1f}{t.p('base', 95):>7.1f}  {hit}  {t.size / 1024:>7.1f} KB"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Draw each chart, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30, help="timed drawings per chart")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    imported = "matplotlib" in sys.modules
    found = subjects()
    first = measure(found, args.rounds)
    with_import = "" if imported else ", importing matplotlib"
    print(f"first chart in the process{with_import}: {first:.0f} ms")
    print(f"{args.rounds} drawings per chart, round-robin with an empty figure of its size")
    print("\n".join(report(found)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
