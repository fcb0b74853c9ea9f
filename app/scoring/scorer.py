"""The serving model and the prediction path shared by the API, webhooks and the nightly job.

The model is swapped by replacing one reference under a lock; a request takes the reference
once at its start, so requests in flight finish on the model they began with and none fails
during an activation.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.errors import ModelUnavailable
from app.scoring.actions import NextAction, Playbook, next_action, signals_from
from app.scoring.reasons import Reason, top_reasons
from training import registry
from training.artifacts import LoadedModel
from training.design import FeatureLayout, design_array
from training.features import (
    RAW_COUNT_INPUTS,
    STATES,
    TIME_INPUTS,
    epoch_seconds_of,
    feature_matrix,
)
from training.pipeline import calibrated_proba


@dataclass(frozen=True)
class Prediction:
    """Everything the API says about one customer."""

    state: str
    probabilities: dict[str, float]
    confidence: float
    model_version: str
    reasons_for: list[Reason]
    reasons_against: list[Reason]
    action: NextAction


class Scorer:
    """Holds the serving model and the playbook; thread-safe swaps, lock-free reads."""

    def __init__(self, models_dir: Path, playbook: Playbook, *, low_confidence: float) -> None:
        self.models_dir = models_dir
        self.playbook = playbook
        self.low_confidence = low_confidence
        self._model: LoadedModel | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> LoadedModel:
        """The current model; ModelUnavailable (503) when none is loaded."""
        current = self._model
        if current is None:
            raise ModelUnavailable("no model is loaded; train and promote one")
        return current

    @property
    def loaded(self) -> bool:
        """Whether a model is ready to serve."""
        return self._model is not None

    def activate(self, version: str | None = None) -> LoadedModel:
        """Load and verify `version` (default: promoted), then make it the serving model."""
        with self._lock:
            model = registry.load(self.models_dir, version)
            self._model = model
            return model

    def predict(
        self,
        matrix: npt.NDArray[np.float64],
        objection_kinds: Sequence[str | None],
        *,
        today: date,
        model: LoadedModel | None = None,
    ) -> list[Prediction]:
        """Score every row of a design matrix in one model call (plus one for contributions)."""
        model = model or self.model
        proba = calibrated_proba(model.booster, matrix, model.temperature)
        winners = proba.argmax(axis=1)
        contrib = np.asarray(model.booster.predict(matrix, pred_contrib=True))
        width = len(model.layout.columns) + 1
        return [
            self._one(model, matrix[i], proba[i], int(winners[i]), contrib[i], width, kind, today)
            for i, kind in enumerate(objection_kinds)
        ]

    def _one(
        self,
        model: LoadedModel,
        row: npt.NDArray[np.float64],
        proba: npt.NDArray[np.float64],
        winner: int,
        contrib: npt.NDArray[np.float64],
        width: int,
        objection_kind: str | None,
        today: date,
    ) -> Prediction:
        columns = model.layout.columns
        values = _display_values(model, row)
        own = contrib[winner * width : winner * width + width - 1]
        towards, against = top_reasons(own, columns, values)
        confidence = float(proba[winner])
        features = dict(zip(columns, row.tolist(), strict=True))
        signals = signals_from(
            features,
            objection_kind=objection_kind,
            confidence=confidence,
            low_confidence=self.low_confidence,
            quote_silence_days=self.playbook.signals.quote_silence_days,
        )
        return Prediction(
            state=STATES[winner],
            probabilities={s: float(p) for s, p in zip(STATES, proba, strict=True)},
            confidence=confidence,
            model_version=model.version,
            reasons_for=towards,
            reasons_against=against,
            action=next_action(self.playbook, STATES[winner], signals, today),
        )


def _display_values(model: LoadedModel, row: npt.NDArray[np.float64]) -> list[float | str | None]:
    """Feature values for reasons: categories by name, unknown (NaN) as None, since JSON has
    no NaN and clients and PostgreSQL's JSON type both refuse it."""
    values: list[float | str | None] = [None if np.isnan(v) else float(v) for v in row]
    for position, name in zip(
        model.layout.categorical_positions, model.layout.extra_categorical, strict=True
    ):
        code = row[position]
        vocab = model.layout.categories.get(name, ())
        values[position] = None if np.isnan(code) else vocab[int(code)]
    return values


def request_matrix(
    rows: Sequence[dict[str, Any]], as_of: datetime, layout: FeatureLayout
) -> npt.NDArray[np.float64]:
    """Build the design matrix straight from API inputs, skipping DataFrames on the hot path.

    Same formulas as offline scoring (`feature_matrix`, `design_array`); a test compares the
    two paths' probabilities for the same customers.
    """
    values: dict[str, npt.NDArray[np.float64]] = {}
    for name in RAW_COUNT_INPUTS:
        values[name] = np.array(
            [np.nan if r.get(name) is None else r[name] for r in rows], dtype=np.float64
        )
    for name in TIME_INPUTS:
        values[name] = np.array([epoch_seconds_of(r.get(name)) for r in rows], dtype=np.float64)
    core = feature_matrix(values, epoch_seconds_of(as_of))
    extras = {
        name: [(r.get("extras") or {}).get(name) for r in rows]
        for name in layout.extra_numeric + layout.extra_categorical
    }
    return design_array(core, extras, layout)
