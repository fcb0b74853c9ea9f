"""How good a set of state probabilities is, in numbers a sales team can check.

Labels are class indices into `features.STATES`; probabilities are (n, 5) in that order.
States are ordered, so "within one state" counts a neighbour mix-up as nearly right, and the
service shows probabilities to people, so calibration (ECE) is reported next to accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
)

from training.features import STATES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CLASSES = list(range(len(STATES)))


def evaluate(
    y_true: IntArray, proba: FloatArray, decisions: npt.NDArray[np.intp] | None = None
) -> dict[str, Any]:
    """All the report's metrics for one model on one set of customers (JSON-serialisable).

    `decisions` are the states shown (a decision rule's); without them, the most probable.
    Calibration (ECE) always reads the probabilities, which the rule leaves untouched.
    """
    y_pred = proba.argmax(axis=1) if decisions is None else decisions
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=CLASSES, zero_division=0
    )
    clipped = np.clip(proba, 1e-15, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    return {
        "n": len(y_true),
        # Over the states the customers are really in: an export with two states is not
        # marked down for the three it never had.
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0)
        ),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "within_one_accuracy": float(np.mean(np.abs(y_pred - y_true) <= 1)),
        "log_loss": float(log_loss(y_true, clipped, labels=CLASSES)),
        "ranked_probability_score": ranked_probability_score(y_true, proba),
        "ece": expected_calibration_error(y_true, proba),
        "per_state": {
            state: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, state in enumerate(STATES)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=CLASSES).tolist(),
    }


def reliability_bins(
    y_true: IntArray, proba: FloatArray, n_bins: int = 15
) -> list[dict[str, float]]:
    """Per confidence bin: mean confidence, accuracy and count (empty bins left out)."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        members = which == b
        if members.any():
            bins.append(
                {
                    "confidence": float(confidence[members].mean()),
                    "accuracy": float(correct[members].mean()),
                    "count": float(members.sum()),
                }
            )
    return bins


MIN_BIN_CUSTOMERS = 20
"""Fewer customers in a confidence bin are noise, not calibration: the report's diagram and
words and the web app's leave such bins out."""


def reliability_bins_shown(
    y_true: IntArray, proba: FloatArray, n_bins: int = 15
) -> list[dict[str, float]]:
    """`reliability_bins` without the bins of fewer than `MIN_BIN_CUSTOMERS` customers."""
    return [b for b in reliability_bins(y_true, proba, n_bins) if b["count"] >= MIN_BIN_CUSTOMERS]


def expected_calibration_error(y_true: IntArray, proba: FloatArray, n_bins: int = 15) -> float:
    """Gap between top-label confidence and accuracy, averaged over bins by their size."""
    bins = reliability_bins(y_true, proba, n_bins)
    total = sum(b["count"] for b in bins)
    return float(sum(b["count"] * abs(b["confidence"] - b["accuracy"]) for b in bins) / total)


CHANCE_DRAWS = 200
"""Test sets drawn for `chance_ece`: enough for a stable 95th percentile, cheap at any size."""


def chance_ece(
    proba: FloatArray, n_bins: int = 15, draws: int = CHANCE_DRAWS, seed: int = 0
) -> dict[str, float]:
    """The ECE a perfectly calibrated model shows on this many customers by chance alone.

    An ECE measured on a few hundred customers is mostly sampling noise: a bin of 50 customers
    at 70% confidence is right 70% of the time only on average. Drawing each customer's
    outcome from the model's own confidence (right with probability its top probability, as
    calibrated percentages promise) gives the ECE such a model would show here; a measured ECE
    inside that range cannot tell the model from a perfectly calibrated one.

    Returns the median and the 95th percentile over `draws` test sets.
    """
    confidence = proba.max(axis=1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    members = np.zeros((len(confidence), n_bins))
    members[np.arange(len(confidence)), which] = 1.0
    right = (np.random.default_rng(seed).random((draws, len(confidence))) < confidence).astype(
        np.float64
    )
    gaps = np.abs((right - confidence) @ members).sum(axis=1) / len(confidence)
    return {
        "median": float(np.median(gaps)),
        "p95": float(np.quantile(gaps, 0.95)),
    }


def ranked_probability_score(y_true: IntArray, proba: FloatArray) -> float:
    """The ordinal counterpart of the Brier score: squared gaps between the predicted and the
    true "at least state k" shares, summed over the thresholds and averaged over customers.

    Putting probability on a neighbour of the true state costs less than on a far state, so
    it judges ordinal and multiclass formulations by the same yardstick. 0 is perfect.
    """
    return float(ranked_probability_scores(y_true, proba).mean())


def ranked_probability_scores(y_true: IntArray, proba: FloatArray) -> FloatArray:
    """Each customer's ranked probability score (their mean is `ranked_probability_score`)."""
    predicted = np.cumsum(proba, axis=1)[:, :-1]
    actual = (y_true[:, None] <= np.arange(len(STATES) - 1)[None, :]).astype(np.float64)
    scores: FloatArray = ((predicted - actual) ** 2).sum(axis=1) / (len(STATES) - 1)
    return scores
