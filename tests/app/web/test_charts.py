"""The reliability diagram puts each bin where its numbers say, on the diagonal's scale."""

from __future__ import annotations

from app.web.charts import reliability_chart


def test_a_perfectly_calibrated_bin_sits_on_the_diagonal_and_an_overconfident_one_below() -> None:
    bins = [
        {"confidence": 0.5, "accuracy": 0.5, "count": 40.0},
        {"confidence": 0.9, "accuracy": 0.6, "count": 25.0},
    ]
    chart = reliability_chart(bins)
    assert chart is not None
    x1, y1, x2, y2 = chart.diagonal
    (ax, ay, said), (bx, by, _) = chart.points
    assert (ax, ay) == ((x1 + x2) / 2, (y1 + y2) / 2)
    on_diagonal_y = y1 + (y2 - y1) * (bx - x1) / (x2 - x1)
    assert by > on_diagonal_y  # SVG's y grows downwards: below the diagonal
    assert said == "40 customers: 50% sure, 50% right"
    assert chart.line == f"{ax},{ay} {bx},{by}"
    assert reliability_chart([]) is None
