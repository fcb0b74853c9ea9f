"""Multiclass or ordinal: fit both on the data at hand and keep the one that does better.

Neither wins everywhere: the ordinal targets help a small export whose states are few and
noisy, and cost a little on a large clean one. They are compared by the ranked probability
score on the validation customers, which rewards probability near the true state (the
states are ordered) and judges both formulations with the same yardstick. On a large data
set the comparison runs on a sample of the training customers, so choosing costs seconds;
the winner is then fitted on all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.fitting import FittedModel, Formulation, fit_model
from training.metrics import ranked_probability_score

TRIAL_ROWS = 20_000
"""Training customers the two formulations are compared on (all of them when fewer)."""


@dataclass(frozen=True)
class Choice:
    """The formulation kept, what each scored on validation, and the fitted winner."""

    formulation: Formulation
    validation_rps: dict[Formulation, float]
    trial_rows: int
    fitted: FittedModel

    def to_json(self) -> dict[str, Any]:
        """What the model's metadata records of the choice."""
        return {
            "chosen": self.formulation,
            "validation_ranked_probability_score": dict(self.validation_rps),
            "compared_on_training_customers": self.trial_rows,
        }


def choose_and_fit(
    x_train: pd.DataFrame,
    y_train: npt.NDArray[np.int64],
    x_val: pd.DataFrame,
    y_val: npt.NDArray[np.int64],
    *,
    categorical: list[int],
    seed: int = 0,
    params: dict[str, Any] | None = None,
) -> Choice:
    """Compare the formulations on (a sample of) the training customers; fit the winner."""
    rows = np.arange(len(y_train))
    if len(rows) > TRIAL_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, TRIAL_ROWS, replace=False))
    x_trial, y_trial = x_train.iloc[rows], y_train[rows]
    matrix_val = x_val.to_numpy(np.float64)
    trials: dict[Formulation, FittedModel] = {}
    scores: dict[Formulation, float] = {}
    for formulation in get_args(Formulation):
        fitted = fit_model(
            x_trial,
            y_trial,
            x_val,
            y_val,
            categorical=categorical,
            seed=seed,
            params=params,
            formulation=formulation,
        )
        trials[formulation] = fitted
        scores[formulation] = ranked_probability_score(y_val, fitted.predict_proba(matrix_val))
    winner = min(scores, key=scores.__getitem__)
    final = trials[winner]
    if len(rows) < len(y_train):
        final = fit_model(
            x_train,
            y_train,
            x_val,
            y_val,
            categorical=categorical,
            seed=seed,
            params=params,
            formulation=winner,
        )
    return Choice(winner, scores, len(rows), final)
