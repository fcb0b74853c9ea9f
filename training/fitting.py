"""Fit the classifier: customer-level split, LightGBM with early stopping, temperature scaling.

Probabilities are shown to sellers, so they must mean what they say: the booster's raw scores
are divided by one temperature fitted on the validation split (it keeps every decision the
booster makes and only fixes over- or under-confidence), and the report measures the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.model_selection import train_test_split

from training import ordinal
from training.errors import DataError
from training.features import STATES
from training.table import CustomerTable

SplitMethod = Literal["stratified", "time"]
Formulation = Literal["multiclass", "ordinal"]

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "multiclass",
    "num_class": len(STATES),
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "num_threads": 2,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}
MAX_ROUNDS = 2000
SMALL_PREDICTION = 64
"""Below this many rows a predict call runs on one thread (0 lets LightGBM use every core)."""
EARLY_STOPPING_ROUNDS = 50


@dataclass(frozen=True)
class Split:
    """Row positions of each part of a customer-level split."""

    train: npt.NDArray[np.intp]
    validation: npt.NDArray[np.intp]
    test: npt.NDArray[np.intp]
    method: SplitMethod


def label_codes(labels: pd.Series) -> npt.NDArray[np.int64]:
    """Map state names onto class indices in funnel order."""
    codes = pd.Categorical(labels, categories=list(STATES)).codes.astype(np.int64)
    if (codes < 0).any():
        bad = labels[codes < 0].iloc[0]
        raise DataError(f"label {bad!r} is not one of {', '.join(STATES)}")
    return codes


def split_customers(
    table: CustomerTable,
    y: npt.NDArray[np.int64],
    *,
    method: SplitMethod = "stratified",
    seed: int = 0,
    validation_size: float = 0.15,
    test_size: float = 0.15,
) -> Split:
    """Split customers (one row each, so no customer is on both sides) into three parts.

    `time` puts the customers first contacted earliest in training and the newest in test,
    which shows how the model copes with cohorts it has not seen; customers without a first
    contact time count as oldest.
    """
    positions = np.arange(len(y))
    if method == "time":
        first = table.raw["first_contact_at"]
        order = np.argsort(first.fillna(first.min()).to_numpy(), kind="stable")
        n_test = round(len(y) * test_size)
        n_val = round(len(y) * validation_size)
        n_train = len(y) - n_test - n_val
        return Split(
            np.sort(order[:n_train]),
            np.sort(order[n_train : n_train + n_val]),
            np.sort(order[n_train + n_val :]),
            method,
        )
    counts = np.bincount(y, minlength=len(STATES))
    stratify = y if counts[counts > 0].min() >= 3 else None
    rest, test = train_test_split(
        positions, test_size=test_size, random_state=seed, stratify=stratify
    )
    rest_stratify = None if stratify is None else y[rest]
    train, validation = train_test_split(
        rest,
        test_size=validation_size / (1 - test_size),
        random_state=seed,
        stratify=rest_stratify,
    )
    return Split(np.sort(train), np.sort(validation), np.sort(test), method)


@dataclass(frozen=True)
class FittedModel:
    """A trained booster and the temperature that calibrates it."""

    booster: lgb.Booster
    temperature: float
    params: dict[str, Any]
    formulation: Formulation = "multiclass"

    def predict_proba(self, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Calibrated state probabilities, one column per state in funnel order."""
        return calibrated_proba(self.booster, matrix, self.temperature)


def calibrated_proba(
    booster: lgb.Booster, matrix: npt.NDArray[np.float64], temperature: float
) -> npt.NDArray[np.float64]:
    """Apply the booster and its temperature (offline scoring and training use this)."""
    raw = np.asarray(
        booster.predict(matrix, raw_score=True, num_threads=prediction_threads(len(matrix))),
        dtype=np.float64,
    )
    return calibrate(raw, temperature)


def calibrate(raw: npt.NDArray[np.float64], temperature: float) -> npt.NDArray[np.float64]:
    """Turn raw multiclass scores into calibrated probabilities: the one formula for it.

    A softmax written out in numpy: SciPy's costs 25 us of checks per call, a tenth of a
    single prediction.
    """
    scaled = raw / temperature
    exp = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float64)


def prediction_threads(rows: int) -> int:
    """Threads for one predict call: small calls run faster on one thread, and a server
    handling many small requests at once must not start an OpenMP team for each of them."""
    return 1 if rows < SMALL_PREDICTION else 0


def fit_model(
    x_train: pd.DataFrame,
    y_train: npt.NDArray[np.int64],
    x_val: pd.DataFrame,
    y_val: npt.NDArray[np.int64],
    *,
    categorical: list[int],
    seed: int = 0,
    params: dict[str, Any] | None = None,
    formulation: Formulation = "multiclass",
) -> FittedModel:
    """Fit LightGBM with early stopping on validation, then a temperature on the same rows.

    `ordinal` trains the same kind of booster against neighbour-aware targets (`ordinal.py`).
    """
    booster, merged = train_booster(
        x_train,
        y_train,
        x_val,
        y_val,
        categorical=categorical,
        seed=seed,
        params=params,
        formulation=formulation,
    )
    raw_val = booster.predict(x_val.to_numpy(np.float64), raw_score=True)
    temperature = fit_temperature(np.asarray(raw_val), y_val)
    kept = {**merged, "objective": ordinal.NAME} if formulation == "ordinal" else merged
    return FittedModel(booster, temperature, kept, formulation)


def train_booster(
    x_train: pd.DataFrame,
    y_train: npt.NDArray[np.int64],
    x_val: pd.DataFrame,
    y_val: npt.NDArray[np.int64],
    *,
    categorical: list[int],
    seed: int,
    params: dict[str, Any] | None,
    formulation: Formulation = "multiclass",
) -> tuple[lgb.Booster, dict[str, Any]]:
    """LightGBM early-stopped on validation, and the parameters it ran with; `params` may
    change the objective (the at-risk model is binary)."""
    leaf_size = default_leaf_size(len(x_train))
    merged = {**DEFAULT_PARAMS, "min_data_in_leaf": leaf_size, **(params or {}), "seed": seed}
    names = feature_names(list(x_train.columns))
    train_set = lgb.Dataset(
        x_train.to_numpy(np.float64),
        label=y_train,
        feature_name=names,
        categorical_feature=categorical,
        free_raw_data=True,
    )
    val_set = lgb.Dataset(x_val.to_numpy(np.float64), label=y_val, reference=train_set)
    ordered = formulation == "ordinal"
    booster = lgb.train(
        ordinal.training_params(merged, y_train) if ordered else merged,
        train_set,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[val_set],
        feval=ordinal.log_loss_metric if ordered else None,
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    return booster, merged


def default_leaf_size(rows: int) -> int:
    """Leaves of 100 customers suit tens of thousands of rows; a 300-row export needs smaller
    ones or the booster cannot split at all."""
    return max(5, min(int(DEFAULT_PARAMS["min_data_in_leaf"]), rows // 100))


def fit_temperature(raw_scores: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> float:
    """Find the temperature that minimises log loss of softmax(raw / T) on held-out rows."""

    def nll(log_t: float) -> float:
        logp = log_softmax(raw_scores / np.exp(log_t), axis=1)
        return float(-logp[np.arange(len(y)), y].mean())

    result = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(result.x))


def feature_names(columns: list[str]) -> list[str]:
    """Name columns for LightGBM, which rejects some characters that CRM column names contain."""
    names: list[str] = []
    for column in columns:
        name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in column)
        while name in names:
            name += "_"
        names.append(name)
    return names
