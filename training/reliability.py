"""How far a model's percentages can be taken at their word on its test customers, measured
once at training time and kept in `metadata.json` (`test_calibration`).

The web model page draws these figures and live monitoring sets its per-state figures beside
them. Computing them later means reading `test_set.parquet` and predicting it again, which
takes a noticeable part of a second per model; the test set never changes, so training
measures them once. Models trained before this block existed lack it: `load_model` then
leaves `LoadedModel.reliability` None and the page computes the same figures itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from training.features import STATES
from training.metrics import (
    FloatArray,
    IntArray,
    expected_calibration_error,
    reliability_bins_shown,
    state_calibration,
)

METADATA_KEY = "test_calibration"


@dataclass(frozen=True)
class StateCalibration:
    """One state against the rest (`metrics.state_calibration`)."""

    mean_predicted: float
    observed_share: float
    calibration_error: float
    chance_error: float
    """What `calibration_error` would be on average, by chance, were the percentages exact."""
    support: int


@dataclass(frozen=True)
class Reliability:
    """A model's calibration on its labelled test customers."""

    customers: int
    bins: list[dict[str, float]]
    """Per confidence bin shown: mean confidence, share right, customers (bins of fewer than
    `metrics.MIN_BIN_CUSTOMERS` left out, as in the Markdown report)."""
    left_out: int
    """Customers in bins too small to show."""
    ece: float
    overconfidence: float
    """Mean confidence minus the share right: above 0, the model is too sure of itself."""
    per_state: dict[str, StateCalibration]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Reliability:
        """Read a stored block; KeyError, TypeError or ValueError when it is malformed."""
        bins = [
            {k: float(b[k]) for k in ("confidence", "accuracy", "count")} for b in entry["bins"]
        ]
        return cls(
            customers=int(entry["customers"]),
            bins=bins,
            left_out=int(entry["left_out"]),
            ece=float(entry["ece"]),
            overconfidence=float(entry["overconfidence"]),
            per_state={s: _state(entry["per_state"][s]) for s in STATES},
        )


def reliability_of(y_true: IntArray, proba: FloatArray) -> Reliability:
    """The figures for labelled customers `y_true` given probabilities `proba` (n, 5)."""
    bins = reliability_bins_shown(y_true, proba)
    right = proba.argmax(axis=1) == y_true
    return Reliability(
        customers=len(y_true),
        bins=bins,
        left_out=len(y_true) - int(sum(b["count"] for b in bins)),
        ece=expected_calibration_error(y_true, proba),
        overconfidence=float(np.mean(proba.max(axis=1)) - np.mean(right)),
        per_state={s: _state(state_calibration(y_true, proba, i)) for i, s in enumerate(STATES)},
    )


def _state(entry: Mapping[str, Any]) -> StateCalibration:
    return StateCalibration(
        mean_predicted=float(entry["mean_predicted"]),
        observed_share=float(entry["observed_share"]),
        calibration_error=float(entry["calibration_error"]),
        chance_error=float(entry["chance_error"]),
        support=int(entry["support"]),
    )
