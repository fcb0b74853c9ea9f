"""The chart benchmark keeps running: every chart, its baseline and its cached call are timed."""

from __future__ import annotations

from benchmarks import bench_charts


def test_the_chart_benchmark_times_every_chart_against_an_empty_figure() -> None:
    found = bench_charts.subjects()
    first = bench_charts.measure(found, rounds=2)

    assert first > 0
    assert [t.name.split()[0].strip(",") for t in found] == ["customer's", "funnel", "reliability"]
    assert all(len(t.ms["draw"]) == 2 and len(t.ms["base"]) == 2 for t in found)
    assert [len(t.ms["hit"]) for t in found] == [0, 2, 2]  # a customer's history is not cached
    assert all(t.size > 1000 for t in found)  # each drew a chart of some size
    assert len(bench_charts.report(found)) == len(found) + 1
