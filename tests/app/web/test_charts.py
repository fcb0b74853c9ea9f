"""The charts matplotlib draws carry their data: the states, a marker or a line per value, an alt
text that says it; the same data gives the same bytes, from the cache and when drawn again."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from app.web import charts
from app.web.svg_figures import STATE_COLOURS
from tests.app.web.chart_images import drawn
from tests.repo import ROOT
from training.features import STATES

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
CHANGES = [
    (NOW - timedelta(days=40), "potential"),
    (NOW - timedelta(days=20), "interested"),
    (NOW - timedelta(days=12), "potential"),
    (NOW - timedelta(days=5), "deciding"),
]
BINS = [
    {"confidence": 0.45, "accuracy": 0.5, "count": 40.0},
    {"confidence": 0.7, "accuracy": 0.62, "count": 120.0},
    {"confidence": 0.9, "accuracy": 0.81, "count": 25.0},
]


def _trend(days: int, growth: int = 3) -> list[tuple[datetime, dict[str, int]]]:
    return [
        (
            NOW - timedelta(days=days - i),
            {s: 100 * (k + 1) + growth * i for k, s in enumerate(STATES)},
        )
        for i in range(days)
    ]


def test_the_state_history_marks_each_change_in_its_state_over_the_five_states() -> None:
    chart = charts.state_history_chart(CHANGES, NOW)
    assert chart is not None
    svg = drawn(chart.src)
    assert [t for t in svg.texts() if t in STATES] == list(STATES)  # y axis, funnel order
    assert svg.markers("changes-potential") == 2
    assert svg.markers("changes-interested") == 1
    assert svg.markers("changes-deciding") == 1
    assert "2026-10-27" in svg.texts()  # the first change's day starts the time axis
    assert "#b45309" in svg.group("changes-deciding").find(".//{*}path").get("style", "")  # type: ignore[union-attr]
    assert chart.alt == (
        "State over time: 2026-10-27 potential, 2026-11-16 interested, "
        "2026-11-24 potential, 2026-12-01 deciding."
    )
    assert charts.state_history_chart([], NOW) is None


def test_the_trend_draws_a_line_per_state_through_every_day() -> None:
    points = _trend(30)
    chart = charts.trend_chart(points)
    assert chart is not None
    svg = drawn(chart.src)
    assert [svg.vertices(f"trend-{state}") for state in STATES] == [30] * len(STATES)
    assert "customers" in svg.texts()
    assert "Customers per state at the end of each of 30 days from 2026-11-06 to 2026-12-05" in (
        chart.alt
    )
    assert "loyal 500 to 587" in chart.alt
    assert charts.trend_chart(points[:1]) is None


def test_the_reliability_diagram_puts_a_marker_per_bin_beside_the_diagonal() -> None:
    chart = charts.reliability_chart(BINS)
    assert chart is not None
    svg = drawn(chart.src)
    assert svg.markers("bins") == len(BINS)
    assert svg.vertices("diagonal") == 2
    assert {"0%", "50%", "100%", "confidence shown", "share right"} <= set(svg.texts())
    assert chart.alt.startswith("Reliability diagram of 3 confidence bands from 45% to 90% sure")
    assert "2 of them below the diagonal" in chart.alt
    assert charts.reliability_chart([]) is None


def test_the_same_data_gives_the_same_bytes_and_other_data_other_bytes() -> None:
    first, again = charts.trend_chart(_trend(30)), charts.trend_chart(_trend(30))
    assert first is not None
    assert again is not None
    assert again is first  # from the cache
    key = tuple((when, tuple(n.values())) for when, n in _trend(30))
    assert charts.draw_trend(key) == first  # drawn again: the same bytes
    other = charts.trend_chart(_trend(30, growth=4))
    assert other is not None
    assert other.src != first.src
    assert charts.reliability_chart(BINS) is charts.reliability_chart(BINS)
    moved = [{**BINS[0], "accuracy": 0.4}, *BINS[1:]]
    assert charts.reliability_chart(moved) != charts.reliability_chart(BINS)


def test_charts_drawn_at_once_from_threads_are_the_ones_drawn_alone() -> None:
    alone = [charts.state_history_chart(CHANGES[:n], NOW) for n in range(1, 5)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(
            pool.map(lambda n: charts.state_history_chart(CHANGES[:n], NOW), range(1, 5))
        )
    assert together == alone


def test_the_charts_use_the_stylesheets_state_colours() -> None:
    css = (ROOT / "app/web/static/app.css").read_text()
    declared = dict(re.findall(r"--(\w+): (#[0-9a-f]{6});", css))
    assert {state: declared[state] for state in STATES} == STATE_COLOURS


def test_the_app_starts_without_importing_matplotlib() -> None:
    check = "import sys, app.main; print('matplotlib' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_changes_or_runs_at_one_moment_still_draw_an_axis() -> None:
    chart = charts.trend_chart([(NOW, {"loyal": 1}), (NOW, {"loyal": 2})])
    assert chart is not None
    assert drawn(chart.src).vertices("trend-loyal") == 2
    single = charts.state_history_chart([(NOW, "intent")], NOW)
    assert single is not None
    assert drawn(single.src).markers("changes-intent") == 1
