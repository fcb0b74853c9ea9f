"""The at-risk model: the chance that a customer falls back a state within the horizon.

A state says where a customer is; the at-risk probability says whether they are slipping: a
customer leaning towards a competitor (objections piling up, silence after a quote, a falling
cadence) is still `deciding` today, and the seller must hear of it before the deal is lost.

The label (docs/at_risk.md): within `HORIZON_DAYS` of the snapshot, a customer falls back at
least one state; for a loyal customer that is stopping buying. A `potential` customer cannot
fall back, so its label is always 0. It is a second, binary booster on the same design matrix
and the same split as the state model, so it costs one more pass over its trees per request
and nothing else. Its raw score is calibrated with Platt scaling on the validation customers
(a scale and a bias on the logit: the booster's ranking is kept, only its confidence fixed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.parquet as pq
from scipy.optimize import minimize
from scipy.special import log_expit
from sklearn.metrics import roc_auc_score

from training.errors import DataError
from training.fitting import Split, train_booster

HORIZON_DAYS = 30
"""How far past the snapshot the label looks: a month is a seller's planning horizon."""
LABEL_COLUMN = "at_risk"
"""The native snapshot's at-risk label column (0/1), as `dealnode simulate` writes it."""
PARAMS: dict[str, Any] = {"objective": "binary", "num_class": 1, "metric": "binary_logloss"}
ECE_BINS = 15

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class AtRiskFit:
    """A fitted at-risk booster and its Platt calibration."""

    booster: lgb.Booster
    scale: float
    bias: float
    params: dict[str, Any]

    def predict_proba(self, matrix: FloatArray) -> FloatArray:
        """Calibrated at-risk probabilities."""
        raw = np.asarray(self.booster.predict(matrix, raw_score=True), dtype=np.float64)
        return calibrate(raw, self.scale, self.bias)


def calibrate(raw: FloatArray, scale: float, bias: float) -> FloatArray:
    """The one formula from the booster's raw score to a calibrated probability."""
    # numpy's exp, not SciPy's expit: a ufunc call of its own costs more than one request's
    # whole calibration.
    return np.asarray(1.0 / (1.0 + np.exp(-(scale * raw.reshape(-1) + bias))), dtype=np.float64)


def read_labels(path: Path, ids: pd.Index) -> IntArray | None:
    """The file's at-risk labels for the customers `ids` (None when it has no such column).

    Read apart from the table (only two columns of a Parquet file), so the state model's loader
    stays as it is; values other than 0 and 1 are refused with the row they are on.
    """
    if path.suffix.lower() == ".csv":
        header = pd.read_csv(path, nrows=0).columns
        if LABEL_COLUMN not in header:
            return None
        frame = pd.read_csv(path, usecols=["customer_id", LABEL_COLUMN], dtype=str)
    else:
        if LABEL_COLUMN not in pq.read_schema(path).names:
            return None
        frame = pd.read_parquet(path, columns=["customer_id", LABEL_COLUMN])
    values = pd.to_numeric(frame[LABEL_COLUMN], errors="coerce")
    bad = ~values.isin([0, 1]).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise DataError(
            f"{path.name}: column {LABEL_COLUMN!r}, row {row}: "
            f"{frame[LABEL_COLUMN].iloc[row - 1]!r} is not 0 or 1 ({int(bad.sum())} such rows)"
        )
    by_id = pd.Series(values.to_numpy(np.int64), index=frame["customer_id"].astype(str).str.strip())
    return by_id.reindex(ids).fillna(0).to_numpy(np.int64)


@dataclass(frozen=True)
class AtRiskResult:
    """A fitted at-risk model and how it did (what train.py records)."""

    fitted: AtRiskFit
    metrics: dict[str, dict[str, Any]]

    def metadata(self, booster_meta: dict[str, Any]) -> dict[str, Any]:
        """The model metadata's `at_risk` entry, given the written booster's own."""
        return {
            "horizon_days": HORIZON_DAYS,
            "label": "falls back at least one state (loyal: stops buying) within the horizon",
            "booster": booster_meta,
            "calibration": {
                "method": "platt",
                "scale": self.fitted.scale,
                "bias": self.fitted.bias,
            },
            "params": self.fitted.params,
            "metrics": self.metrics,
        }


def train_if_labelled(
    labels: IntArray | None,
    split: Split,
    matrices: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    *,
    categorical: list[int],
    seed: int,
) -> AtRiskResult | None:
    """Fit and evaluate the at-risk model on the state model's split, when there are labels
    with both outcomes in training (otherwise there is nothing to learn: no at-risk model)."""
    if labels is None:
        return None
    y_train, y_val, y_test = (labels[part] for part in (split.train, split.validation, split.test))
    if not 0 < y_train.sum() < len(y_train) or len(y_val) == 0:
        return None
    x_train, x_val, x_test = matrices
    fitted = fit(x_train, y_train, x_val, y_val, categorical=categorical, seed=seed)
    return AtRiskResult(
        fitted,
        {
            "test": evaluate(y_test, fitted.predict_proba(x_test.to_numpy(np.float64))),
            "validation": evaluate(y_val, fitted.predict_proba(x_val.to_numpy(np.float64))),
        },
    )


def fit(
    x_train: pd.DataFrame,
    y_train: IntArray,
    x_val: pd.DataFrame,
    y_val: IntArray,
    *,
    categorical: list[int],
    seed: int,
) -> AtRiskFit:
    """Fit the binary booster, early-stopped on validation, then Platt on the same rows."""
    booster, merged = train_booster(
        x_train, y_train, x_val, y_val, categorical=categorical, seed=seed, params=PARAMS
    )
    raw_val = np.asarray(booster.predict(x_val.to_numpy(np.float64), raw_score=True))
    scale, bias = fit_platt(raw_val, y_val)
    return AtRiskFit(booster=booster, scale=scale, bias=bias, params=merged)


def fit_platt(raw: FloatArray, y: IntArray) -> tuple[float, float]:
    """The scale and bias of the logit that minimise log loss on held-out rows."""

    def nll(ab: FloatArray) -> float:
        z = ab[0] * raw + ab[1]
        return float(-(y * log_expit(z) + (1 - y) * log_expit(-z)).mean())

    result = minimize(nll, np.array([1.0, 0.0]), method="Nelder-Mead")
    return float(result.x[0]), float(result.x[1])


def evaluate(y: IntArray, proba: FloatArray) -> dict[str, float | int | None]:
    """The at-risk model's numbers on one set of customers (JSON-serialisable).

    AUC is None when the set has only one outcome (it needs both to rank).
    """
    clipped = np.clip(proba, 1e-15, 1 - 1e-15)
    both = 0 < y.sum() < len(y)
    return {
        "n": len(y),
        "base_rate": float(y.mean()),
        "mean_probability": float(proba.mean()),
        "auc": float(roc_auc_score(y, proba)) if both else None,
        "log_loss": float(-(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)).mean()),
        "brier": float(((proba - y) ** 2).mean()),
        "ece": calibration_error(y, proba),
    }


def calibration_error(y: IntArray, proba: FloatArray, n_bins: int = ECE_BINS) -> float:
    """Gap between predicted probability and observed rate, averaged over equal-width bins by
    their size: a flag shown to sellers as a probability must mean what it says."""
    which = np.clip((proba * n_bins).astype(np.intp), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    gap = np.bincount(which, weights=proba - y, minlength=n_bins)
    return float(np.abs(gap).sum() / max(count.sum(), 1))


def report_section(metrics: dict[str, Any]) -> str:
    """The report's at-risk section, in plain words."""
    test = metrics["test"]
    auc = "n/a (one outcome only)" if test["auc"] is None else f"{test['auc']:.3f}"
    return "\n".join(
        [
            "## At risk",
            "",
            f"The chance that a customer falls back at least one state within {HORIZON_DAYS} "
            "days (a loyal customer: stops buying), from a second model on the same inputs.",
            "",
            f"- Test customers: {test['n']}; {test['base_rate']:.1%} of them fell back "
            f"(the model said {test['mean_probability']:.1%} on average).",
            f"- Ranking: AUC {auc} (0.5 is a coin toss, 1.0 perfect).",
            f"- Calibration: log loss {test['log_loss']:.4f}, Brier {test['brier']:.4f}, "
            f"ECE {test['ece']:.4f} (Platt scaling fitted on the validation customers).",
            "",
        ]
    )
