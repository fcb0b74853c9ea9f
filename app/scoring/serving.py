"""The serving model and the prediction path shared by the API, webhooks and the nightly job.

The model (with its explainer) is swapped by replacing one reference under a lock; a request
takes the reference once at its start, so requests in flight finish on the model they began
with and none fails during an activation.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.errors import ModelUnavailable
from app.scoring.actions import Playbook, next_actions, signals_from
from app.scoring.explain import PathExplainer
from app.scoring.reasons import picked_reasons, rank_reasons
from app.scoring.results import Scores
from training import registry
from training.artifacts import LoadedModel
from training.design import FeatureLayout, design_array
from training.features import (
    RAW_COUNT_INPUTS,
    RAW_INPUTS,
    STATES,
    TIME_INPUTS,
    epoch_seconds_of,
    feature_matrix_of_raw,
)
from training.pipeline import calibrate

_COUNTS_OF = itemgetter(*RAW_COUNT_INPUTS)
_TIMES_OF = itemgetter(*TIME_INPUTS)
"""A row's inputs in `RAW_INPUTS` order, gathered in C: a batch of 1,000 has 20,000."""


@dataclass(frozen=True)
class Serving:
    """A loaded model with its explainer: swapped together, so they always match."""

    model: LoadedModel
    explainer: PathExplainer


class Scorer:
    """Holds the serving model and the playbook; thread-safe swaps, lock-free reads."""

    def __init__(
        self,
        models_dir: Path,
        playbook: Playbook,
        *,
        low_confidence: float,
        threads: int | None = None,
    ) -> None:
        self.models_dir = models_dir
        self.threads = threads
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
            serving = self.prepare(version)
            self._serving = serving
            return serving.model

    def prepare(self, version: str | None = None) -> Serving:
        """Load and verify `version` (default: promoted) without serving it yet.

        Apart from `install`, so a caller can record the choice elsewhere first and the old
        model keeps serving if this fails (ModelError).
        """
        model = registry.load(self.models_dir, version)
        return Serving(model, PathExplainer(model.booster, len(STATES), self.threads))

    def install(self, serving: Serving) -> None:
        """Serve a prepared model from now on."""
        with self._lock:
            self._serving = serving

    def score(
        self,
        matrix: npt.NDArray[np.float64],
        objection_kinds: Sequence[str | None],
        *,
        as_of: datetime,
        serving: Serving | None = None,
    ) -> Scores:
        """Score every row of a design matrix with one pass over the trees.

        Everything is done a column at a time; what is left per customer is gathering its
        answer, which the API reads (`Scores.reads`) and the database stores
        (`Scores.documents`) in their own forms.
        """
        serving = serving or self.serving
        model, explainer = serving.model, serving.explainer
        layout = model.layout
        leaves = explainer.leaves(matrix)
        proba = calibrate(explainer.raw_scores(leaves), model.temperature)
        winners = proba.argmax(axis=1)
        contributions, _ = explainer.contributions(leaves, winners)
        towards, against = rank_reasons(contributions, ~np.isnan(matrix))
        confidence = proba[np.arange(len(proba)), winners]
        signals = signals_from(
            layout.columns,
            matrix,
            objection_kinds,
            confidence,
            low_confidence=self.low_confidence,
            quote_silence_days=self.playbook.signals.quote_silence_days,
        )
        categories = {
            position: layout.categories.get(name, ())
            for position, name in zip(
                layout.categorical_positions, layout.extra_categorical, strict=True
            )
        }
        return Scores(
            model_version=model.version,
            as_of=as_of,
            winners=winners,
            probabilities=proba.tolist(),
            confidence=confidence.tolist(),
            reasons_for=picked_reasons(layout.columns, matrix, contributions, towards, categories),
            reasons_against=picked_reasons(
                layout.columns, matrix, contributions, against, categories
            ),
            actions=next_actions(self.playbook, winners, signals, as_of.date()),
        )


def raw_inputs(rows: Sequence[dict[str, Any]]) -> npt.NDArray[np.float64]:
    """API inputs as one array, a column per name in `RAW_INPUTS` (times in epoch seconds).

    One array for all rows (None becomes NaN): per-column arrays cost a numpy call each,
    which is most of a single request's time here. Every row carries every input.
    """
    return np.array(
        [(*_COUNTS_OF(r), *map(epoch_seconds_of, _TIMES_OF(r))) for r in rows],
        dtype=np.float64,
    ).reshape(len(rows), len(RAW_INPUTS))


def request_matrix(
    raw: npt.NDArray[np.float64],
    rows: Sequence[dict[str, Any]],
    as_of: datetime,
    layout: FeatureLayout,
) -> npt.NDArray[np.float64]:
    """Build the design matrix straight from API inputs (`raw_inputs` of `rows`, whose
    extras it adds), skipping DataFrames on the hot path.

    Same formulas as offline scoring (`feature_matrix`, `design_array`); a test compares the
    two paths' probabilities for the same customers.
    """
    core = feature_matrix_of_raw(raw, epoch_seconds_of(as_of))
    extras = {
        name: [(r.get("extras") or {}).get(name) for r in rows]
        for name in layout.extra_numeric + layout.extra_categorical
    }
    return design_array(core, extras, layout)
