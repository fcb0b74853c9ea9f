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
    correct = proba.argmax(axis=1) == y_true
    return [
        {"confidence": predicted, "accuracy": observed, "count": count}
        for predicted, observed, count, _ in _binned(proba.max(axis=1), correct, n_bins)
    ]


def _binned(
    predicted: FloatArray, happened: npt.NDArray[np.bool_], n_bins: int
) -> list[tuple[float, float, float, float]]:
    """Per equal-width probability bin with customers: the mean probability, the share it
    happened to, the count, and the sum of p(1 - p) (the variance of how many it happens to,
    were the probabilities exact). One binning for the top-label ECE and the per-state one,
    so the two read alike."""
    which = _bin_of(predicted, n_bins)
    counts = np.bincount(which, minlength=n_bins)
    sums = [
        np.bincount(which, weights=w, minlength=n_bins)
        for w in (predicted, happened.astype(np.float64), predicted * (1.0 - predicted))
    ]
    return [
        (float(sums[0][b] / n), float(sums[1][b] / n), float(n), float(sums[2][b]))
        for b, n in enumerate(counts.tolist())
        if n
    ]


def _bin_of(predicted: FloatArray, n_bins: int) -> npt.NDArray[np.intp]:
    """Each probability's equal-width bin, 0 to `n_bins` - 1 (a bin holds its upper edge)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.digitize(predicted, edges[1:-1], right=True), 0, n_bins - 1)


def _gap(binned: list[tuple[float, float, float, float]]) -> float:
    """Mean |probability - share it happened| over bins, weighted by their size."""
    total = sum(count for _, _, count, _ in binned)
    return float(sum(count * abs(p - h) for p, h, count, _ in binned) / total)


def _chance_gap(binned: list[tuple[float, float, float, float]]) -> float:
    """The `_gap` exact probabilities would show on average, by the luck of which customers
    it happened to: per bin, the mean absolute deviation of a share whose count has variance
    sum p(1 - p), taken as normal (sqrt(2 / pi) standard deviations)."""
    total = sum(count for _, _, count, _ in binned)
    return float(sum(np.sqrt(2.0 / np.pi * variance) for *_, variance in binned) / total)


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
    return _gap(_binned(proba.max(axis=1), proba.argmax(axis=1) == y_true, n_bins))


def state_calibration(
    y_true: IntArray, proba: FloatArray, state: int, n_bins: int = 15
) -> dict[str, float]:
    """One state against the rest: the mean probability given to it, the share truly in it,
    its calibration error (the ECE's binning, over that state's probability), and the error
    chance alone would give on these customers were the probabilities exact.

    The top-label ECE only looks at the most probable state, so a model that understates
    `deciding` wherever `interested` wins goes unseen there; a seller reading "deciding 20%"
    needs that state's own figure. A binned error never falls to 0 on a sample: on a few dozen
    customers exact probabilities still show 10 points or more, hence `chance_error` beside
    it. JSON-serialisable; `support` counts customers truly in it.
    """
    predicted = proba[:, state]
    truly = y_true == state
    binned = _binned(predicted, truly, n_bins)
    return {
        "mean_predicted": float(predicted.mean()),
        "observed_share": float(truly.mean()),
        "calibration_error": _gap(binned),
        "chance_error": _chance_gap(binned),
        "support": int(truly.sum()),
    }


CHANCE_DRAWS = 200
"""Test sets drawn for `chance_ece`: enough for a stable 95th percentile, cheap at any size."""


def chance_ece(
    proba: FloatArray, n_bins: int = 15, draws: int = CHANCE_DRAWS, seed: int = 0
) -> dict[str, float]:
    """The ECE a perfectly calibrated model shows on this many customers by chance alone.

    An ECE measured on a few hundred customers is mostly sampling noise: a bin of 50 customers
    at 70% confidence is right 70% of the time only on average. `state_calibration`'s
    `chance_error` gives the mean of that noise in closed form; the test set's verdict needs
    its 95th percentile too, hence draws. Drawing each customer's
    outcome from the model's own confidence (right with probability its top probability, as
    calibrated percentages promise) gives the ECE such a model would show here; a measured ECE
    inside that range cannot tell the model from a perfectly calibrated one.

    Returns the median and the 95th percentile over `draws` test sets.
    """
    confidence = proba.max(axis=1)
    members = np.zeros((len(confidence), n_bins))
    members[np.arange(len(confidence)), _bin_of(confidence, n_bins)] = 1.0
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
