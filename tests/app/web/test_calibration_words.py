"""The model page's calibration sentence: the ECE in words, and whether chance explains it."""

from __future__ import annotations

from app.web.calibration import Calibration
from training.reliability import Reliability


def _calibration(ece: float, chance_p95: float | None) -> Calibration:
    figures = Reliability(
        customers=731, bins=[], left_out=0, ece=ece, overconfidence=0.0, per_state={}
    )
    return Calibration(version="v1", figures=figures, chance_p95=chance_p95)


def test_a_gap_inside_what_chance_gives_on_a_small_test_set_is_called_possible_luck() -> None:
    words = _calibration(0.035, 0.059).words
    assert "(ECE 0.035): the percentages are a fair guide" in words
    assert "On 731 test customers even exact percentages would show up to 0.059" in words


def test_a_gap_beyond_chance_or_without_a_stored_band_gets_no_excuse() -> None:
    assert "by chance" not in _calibration(0.09, 0.059).words
    assert "by chance" not in _calibration(0.035, None).words
