"""The ordinal formulation and the choice between it and multiclass."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from training import formulation, ordinal
from training.fitting import FittedModel, fit_model
from training.metrics import ranked_probability_score


def test_soft_targets_peak_on_the_true_state_and_fall_with_distance() -> None:
    targets = ordinal.soft_targets(np.array([0, 2, 4]))
    np.testing.assert_allclose(targets.sum(axis=1), 1.0)
    assert (targets.argmax(axis=1) == [0, 2, 4]).all()
    middle = targets[1]
    assert middle[1] == pytest.approx(middle[3])
    assert middle[2] > middle[1] > middle[0]


def test_objective_gradient_is_that_of_cross_entropy_against_the_targets() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 50)
    raw = rng.normal(size=(50, 5))
    grad, hess = ordinal.objective(y)(raw, lgb.Dataset(np.zeros((50, 1))))

    def loss(scores: np.ndarray) -> float:
        logp = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        return float(-(ordinal.soft_targets(y) * logp).sum())

    step = 1e-6
    bumped = raw.copy()
    bumped[7, 3] += step
    assert grad[7, 3] == pytest.approx((loss(bumped) - loss(raw)) / step, rel=1e-3)
    assert (hess > 0).all()


def test_ranked_probability_score_prefers_mass_near_the_true_state() -> None:
    y = np.array([2])
    near = np.array([[0.0, 0.0, 0.5, 0.5, 0.0]])
    far = np.array([[0.0, 0.0, 0.5, 0.0, 0.5]])
    exact = np.array([[0.0, 0.0, 1.0, 0.0, 0.0]])
    assert ranked_probability_score(y, exact) == 0.0
    assert ranked_probability_score(y, near) < ranked_probability_score(y, far)


def _ordered_data(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """One noisy signal of an ordered state: neighbours are easy to confuse."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, rows)
    x = pd.DataFrame(
        {"signal": y + rng.normal(scale=1.2, size=rows), "noise": rng.normal(size=rows)}
    )
    return x, y


def test_ordinal_booster_scores_like_a_multiclass_one() -> None:
    x, y = _ordered_data(3_000, 1)
    xv, yv = _ordered_data(1_000, 2)
    fitted = fit_model(x, y, xv, yv, categorical=[], formulation="ordinal")
    proba = fitted.predict_proba(xv.to_numpy(np.float64))
    assert proba.shape == (1_000, 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert fitted.formulation == "ordinal"
    assert fitted.params["objective"] == ordinal.NAME
    # It learnt the order: a high signal means a late state.
    assert np.corrcoef(proba @ np.arange(5), yv)[0, 1] > 0.6


def test_choice_keeps_the_formulation_with_the_better_validation_score() -> None:
    x, y = _ordered_data(3_000, 3)
    xv, yv = _ordered_data(1_000, 4)
    choice = formulation.choose_and_fit(x, y, xv, yv, categorical=[])
    scores = choice.validation_rps
    assert set(scores) == {"multiclass", "ordinal"}
    assert choice.formulation == min(scores, key=scores.__getitem__)
    assert choice.fitted.formulation == choice.formulation
    kept = ranked_probability_score(yv, choice.fitted.predict_proba(xv.to_numpy(np.float64)))
    assert kept == pytest.approx(scores[choice.formulation])
    assert choice.to_json()["compared_on_training_customers"] == 3_000


def test_choice_compares_on_a_sample_of_a_large_training_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(formulation, "TRIAL_ROWS", 1_000)
    fitted_on: list[tuple[int, str]] = []

    def recording(x: pd.DataFrame, *args: Any, **kwargs: Any) -> FittedModel:
        fitted_on.append((len(x), kwargs["formulation"]))
        return fit_model(x, *args, **kwargs)

    monkeypatch.setattr(formulation, "fit_model", recording)
    x, y = _ordered_data(3_000, 5)
    xv, yv = _ordered_data(1_000, 6)
    choice = formulation.choose_and_fit(x, y, xv, yv, categorical=[])
    assert choice.trial_rows == 1_000
    # Both compared on the sample, then the winner refitted on every training customer.
    assert fitted_on == [
        (1_000, "multiclass"),
        (1_000, "ordinal"),
        (3_000, choice.formulation),
    ]
