"""The serving model and the prediction path shared by the API, webhooks and the nightly job.

The model (with its explainer) is swapped by replacing one reference under a lock; a request
takes the reference once at its start, so requests in flight finish on the model they began
with and none fails during an activation.
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
from app.scoring.explain import PathExplainer
from app.scoring.reasons import Reason, describe, rank_reasons
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
from training.pipeline import calibrate


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


@dataclass(frozen=True)
class Serving:
    """A loaded model with its explainer: swapped together, so they always match."""

    model: LoadedModel
    explainer: PathExplainer


class Scorer:
    """Holds the serving model and the playbook; thread-safe swaps, lock-free reads."""

    def __init__(self, models_dir: Path, playbook: Playbook, *, low_confidence: float) -> None:
        self.models_dir = models_dir
        self.playbook = playbook
        self.low_confidence = low_confidence
        self._serving: Serving | None = None
        self._lock = threading.Lock()

    @property
    def serving(self) -> Serving:
        """The current model and explainer; ModelUnavailable (503) when none is loaded."""
        current = self._serving
        if current is None:
            raise ModelUnavailable("no model is loaded; train and promote one")
        return current

    @property
    def model(self) -> LoadedModel:
        """The current model; ModelUnavailable (503) when none is loaded."""
        return self.serving.model

    @property
    def loaded(self) -> bool:
        """Whether a model is ready to serve."""
        return self._serving is not None

    def activate(self, version: str | None = None) -> LoadedModel:
        """Load and verify `version` (default: promoted), then make it the serving model."""
        with self._lock:
            model = registry.load(self.models_dir, version)
            self._serving = Serving(model, PathExplainer(model.booster, len(STATES)))
            return model

    def predict(
        self,
        matrix: npt.NDArray[np.float64],
        objection_kinds: Sequence[str | None],
        *,
        today: date,
        serving: Serving | None = None,
    ) -> list[Prediction]:
        """Score every row of a design matrix with one pass over the trees."""
        serving = serving or self.serving
        model, explainer = serving.model, serving.explainer
        leaves = explainer.leaves(matrix)
        proba = calibrate(explainer.raw_scores(leaves), model.temperature)
        winners = proba.argmax(axis=1)
        contributions, _ = explainer.contributions(leaves, winners)
        towards, against = rank_reasons(contributions, ~np.isnan(matrix))
        columns = model.layout.columns
        results = []
        for i, kind in enumerate(objection_kinds):
            row, winner = matrix[i], int(winners[i])
            values = _display_values(model, row)

            def reason(j: int, i: int = i, values: list[float | str | None] = values) -> Reason:
                text = describe(columns[j], values[j])
                return Reason(columns[j], values[j], float(contributions[i, j]), text)

            confidence = float(proba[i, winner])
            signals = signals_from(
                dict(zip(columns, row.tolist(), strict=True)),
                objection_kind=kind,
                confidence=confidence,
                low_confidence=self.low_confidence,
                quote_silence_days=self.playbook.signals.quote_silence_days,
            )
            results.append(
                Prediction(
                    state=STATES[winner],
                    probabilities={s: float(p) for s, p in zip(STATES, proba[i], strict=True)},
                    confidence=confidence,
                    model_version=model.version,
                    reasons_for=[reason(int(j)) for j in towards[i] if j >= 0],
                    reasons_against=[reason(int(j)) for j in against[i] if j >= 0],
                    action=next_action(self.playbook, STATES[winner], signals, today),
                )
            )
        return results


def _display_values(model: LoadedModel, row: npt.NDArray[np.float64]) -> list[float | str | None]:
    """Feature values for reasons: categories by name, unknown (NaN) as None, since JSON has
    no NaN and clients and PostgreSQL's JSON type both refuse it."""
    values: list[float | str | None] = [None if v != v else v for v in row.tolist()]
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
