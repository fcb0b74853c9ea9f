"""Metrics: hand-checked values, and calibration error that sees over-confidence."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import (
    MIN_BIN_CUSTOMERS,
    chance_ece,
    evaluate,
    expected_calibration_error,
    reliability_bins_shown,
    state_calibration,
)


def one_hot(labels: list[int], sure: float = 1.0) -> np.ndarray:
    out = np.full((len(labels), 5), (1 - sure) / 4)
    out[np.arange(len(labels)), labels] = sure
    return out


def test_evaluate_perfect_predictions() -> None:
    y = np.array([0, 1, 2, 3, 4, 4])
    result = evaluate(y, one_hot(list(y)))
    assert result["macro_f1"] == 1.0
    assert result["accuracy"] == 1.0
    assert result["ece"] == pytest.approx(0.0, abs=1e-12)
    assert result["confusion"][4][4] == 2


def test_evaluate_known_confusion() -> None:
    y = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    predicted = [0, 1, 1, 1, 2, 4, 3, 3, 4, 4]  # one neighbour miss, one far miss
    result = evaluate(y, one_hot(predicted, sure=0.9))
    assert result["accuracy"] == pytest.approx(0.8)
    assert result["within_one_accuracy"] == pytest.approx(0.9)
    # per-state F1: potential 2/3, interested 0.8, intent 2/3, deciding 1, loyal 0.8
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 2 / 3 + 1 + 0.8) / 5)
    assert result["per_state"]["potential"]["recall"] == pytest.approx(0.5)
    assert result["confusion"][2][4] == 1


def test_expected_calibration_error_sees_overconfidence() -> None:
    y = np.array([0, 1] * 50)
    always_zero_sure = one_hot([0] * 100, sure=0.99)
    assert expected_calibration_error(y, always_zero_sure) == pytest.approx(0.49, abs=1e-9)


def test_evaluate_handles_a_state_absent_from_the_truth() -> None:
    y = np.array([0, 1, 1, 2])
    result = evaluate(y, one_hot([0, 1, 2, 2], sure=0.7))
    assert np.isfinite(result["log_loss"])
    assert result["per_state"]["loyal"]["support"] == 0


def test_bins_shown_leave_out_bands_of_fewer_than_twenty_customers() -> None:
    few, many = MIN_BIN_CUSTOMERS - 1, MIN_BIN_CUSTOMERS
    y = np.zeros(few + many, dtype=np.int64)
    proba = np.vstack([one_hot([0] * few, sure=0.5), one_hot([1] * many, sure=0.95)])
    [shown] = reliability_bins_shown(y, proba)
    assert shown == {"confidence": pytest.approx(0.95), "accuracy": 0.0, "count": float(many)}


def _calibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels drawn from them: a perfectly calibrated model's test set."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet([3, 1, 1, 1, 1], size=n)
    labels = (proba.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return proba, labels.astype(np.int64)


def test_a_calibrated_models_ece_falls_within_what_chance_gives_about_95_times_in_100() -> None:
    inside = 0
    for seed in range(60):
        proba, labels = _calibrated(600, seed)
        inside += expected_calibration_error(labels, proba) <= chance_ece(proba, seed=seed)["p95"]
    assert 51 <= inside <= 60  # 57 expected; below 51 is about 1 in 1,000 for a right band


def test_an_overconfident_model_is_beyond_chance_and_the_band_narrows_with_more_customers() -> None:
    proba, labels = _calibrated(8_000, 0)
    sharper = proba**2 / (proba**2).sum(axis=1, keepdims=True)
    assert expected_calibration_error(labels, sharper) > chance_ece(sharper)["p95"]
    small, large = chance_ece(proba[:500]), chance_ece(proba)
    assert large["p95"] < small["median"] < small["p95"]
    assert chance_ece(proba[:500]) == small  # seeded: the same figures every time


def test_state_calibration_compares_one_state_against_the_rest_by_hand() -> None:
    # 25 truly deciding at 0.6 for deciding, 25 truly interested at 0.2 for deciding.
    y = np.array([3] * 25 + [1] * 25)
    proba = np.zeros((50, 5))
    proba[:25, 3], proba[:25, 1] = 0.6, 0.4
    proba[25:, 3], proba[25:, 1] = 0.2, 0.8
    figures = state_calibration(y, proba, 3)
    assert figures["mean_predicted"] == pytest.approx(0.4)
    assert figures["observed_share"] == pytest.approx(0.5)
    # Two bins: 0.6 where all are deciding (off by 0.4), 0.2 where none is (off by 0.2).
    assert figures["calibration_error"] == pytest.approx((25 * 0.4 + 25 * 0.2) / 50)
    assert figures["support"] == 25
    never = state_calibration(y, proba, 4)  # loyal: never given, never true
    assert (never["mean_predicted"], never["calibration_error"], never["support"]) == (0, 0, 0)


def test_state_calibration_is_zero_when_each_bin_matches_its_share() -> None:
    # At 0.25 for intent, one customer in four is truly intent; at 0.75, three in four.
    y = np.array([2, 0, 0, 0, 2, 2, 2, 0])
    proba = np.zeros((8, 5))
    proba[:4, 2], proba[:4, 0] = 0.25, 0.75
    proba[4:, 2], proba[4:, 0] = 0.75, 0.25
    assert state_calibration(y, proba, 2)["calibration_error"] == pytest.approx(0.0)
    assert state_calibration(y, proba, 0)["calibration_error"] == pytest.approx(0.0)


def test_chance_error_is_what_exact_probabilities_show_on_average() -> None:
    rng = np.random.default_rng(7)
    proba = rng.dirichlet(np.ones(5), size=200)
    errors = []
    for _ in range(300):
        # Each customer's true state drawn from its own probabilities: exact by construction.
        y = (rng.random((200, 1)) > np.cumsum(proba, axis=1)).sum(axis=1).clip(0, 4)
        errors.append(state_calibration(y, proba, 2)["calibration_error"])
    nobody = np.zeros(200, dtype=np.int64)  # chance depends on the probabilities alone
    chance = state_calibration(nobody, proba, 2)["chance_error"]
    assert chance > 0.03  # 200 customers: far from 0 though every probability is exact
    assert np.mean(errors) == pytest.approx(chance, rel=0.1)
