"""The ordinal formulation: a multiclass booster trained to know that the states are ordered.

Plain multiclass treats `intent` for a `deciding` customer as wrong as `potential` for one.
Here each customer's target is spread a little onto the neighbouring states (most on the true
state, less the further a state is from it), and the booster minimises cross-entropy against
that target. The trees still give one raw score per state, so serving, calibration,
explanations and the decision rule are the same as for multiclass; only training differs.
`train` fits both and keeps the one with the better ranked probability score on validation.

Cumulative "at least state k" models were the alternative; they need one booster per
threshold and a consistency fix-up, and every serving path would have to know about them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from training.features import STATES

FloatArray = npt.NDArray[np.float64]
K = len(STATES)
DECAY = 2.0
"""Target share falls by e^-2 per state of distance: about 76% on the true state, 10% on each
neighbour, 1.4% two states away."""
NAME = "ordinal (neighbour-aware targets)"


def soft_targets(y: npt.NDArray[np.int64]) -> FloatArray:
    """Each customer's target distribution over the states."""
    distance = np.abs(np.arange(K)[None, :] - np.arange(K)[:, None])
    kernel = np.exp(-DECAY * distance)
    kernel /= kernel.sum(axis=1, keepdims=True)
    return np.asarray(kernel[y], dtype=np.float64)


def _softmax(raw: FloatArray) -> FloatArray:
    exp = np.exp(raw - raw.max(axis=1, keepdims=True))
    return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float64)


def objective(
    y: npt.NDArray[np.int64],
) -> Callable[[FloatArray, lgb.Dataset], tuple[FloatArray, FloatArray]]:
    """LightGBM objective: gradient and Hessian of cross-entropy against the soft targets."""
    targets = soft_targets(y)

    def gradients(raw: FloatArray, _data: lgb.Dataset) -> tuple[FloatArray, FloatArray]:
        p = _softmax(raw.reshape(len(targets), K))
        grad = p - targets
        # LightGBM's own multiclass Hessian, scaled as it scales it (K / (K - 1)).
        hess = np.maximum(p * (1.0 - p) * K / (K - 1), 1e-6)
        return grad, hess

    return gradients


def log_loss_metric(raw: FloatArray, data: lgb.Dataset) -> tuple[str, float, bool]:
    """Early stopping's yardstick: plain log loss of the true state (LightGBM's own metric
    would read a custom objective's raw scores as probabilities)."""
    y = np.asarray(data.get_label(), dtype=np.int64)
    p = _softmax(raw.reshape(len(y), K))
    loss = -np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1.0)).mean()
    return "log_loss", float(loss), False


def training_params(params: dict[str, Any], y: npt.NDArray[np.int64]) -> dict[str, Any]:
    """`params` turned into the ordinal formulation's (custom objective, its own metric)."""
    return {**params, "objective": objective(y), "metric": "None"}
