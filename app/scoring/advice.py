"""From what the model says to what a seller reads: reasons and the next action.

The one place a prediction (`training.prediction`) becomes a score with reasons and an
action, for every path that scores: the API, the webhooks and the nightly run. Everything is
done a column at a time; what is left per customer is gathering its answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from app.scoring.actions import Playbook, next_actions, signals_from
from app.scoring.reasons import Reason, picked_reasons, rank_reasons
from app.scoring.results import ScoredCustomers, StoredRisk
from training.prediction import Prediction, Predictor, RawInputs, predict

DEFAULT_AT_RISK_THRESHOLD = 0.5


@dataclass(frozen=True)
class Advisor:
    """The playbook and the confidence below which a score is called unsure."""

    playbook: Playbook
    low_confidence: float
    at_risk_threshold: float = DEFAULT_AT_RISK_THRESHOLD
    """At or above this at-risk probability a customer is flagged (docs/at_risk.md)."""

    def score(
        self,
        predictor: Predictor,
        inputs: RawInputs,
        objection_kinds: Sequence[str | None],
        *,
        as_of: datetime,
    ) -> ScoredCustomers:
        """Score customers from their raw inputs as of `as_of`, with reasons and actions."""
        return self.advise(predict(predictor, inputs, as_of), objection_kinds)

    def advise(
        self, prediction: Prediction, objection_kinds: Sequence[str | None]
    ) -> ScoredCustomers:
        """Reasons for and against each state, and each customer's next action."""
        layout, matrix = prediction.layout, prediction.matrix
        contributions = prediction.contributions
        towards, against = rank_reasons(contributions, ~np.isnan(matrix))
        confidence = prediction.confidence
        signals = signals_from(
            layout.columns,
            matrix,
            objection_kinds,
            confidence,
            low_confidence=self.low_confidence,
            quote_silence_days=self.playbook.signals.quote_silence_days,
            at_risk=None if prediction.at_risk is None else self.flagged(prediction.at_risk),
        )
        categories = {
            position: layout.categories.get(name, ())
            for position, name in zip(
                layout.categorical_positions, layout.extra_categorical, strict=True
            )
        }
        return ScoredCustomers(
            model_version=prediction.model_version,
            as_of=prediction.as_of,
            winners=prediction.winners,
            probabilities=prediction.probabilities.tolist(),
            confidence=confidence.tolist(),
            reasons_for=picked_reasons(layout.columns, matrix, contributions, towards, categories),
            reasons_against=picked_reasons(
                layout.columns, matrix, contributions, against, categories
            ),
            actions=next_actions(
                self.playbook, prediction.winners, signals, prediction.as_of.date()
            ),
            at_risk=self._risks(prediction, categories),
            segments=prediction.segments,
        )

    def flagged(self, probability: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Whether each at-risk probability passes the threshold."""
        return probability >= self.at_risk_threshold

    def _risks(
        self, prediction: Prediction, categories: Mapping[int, Sequence[str]]
    ) -> list[StoredRisk | None]:
        """Each customer's at-risk flag and the signals that raise it (none without a part)."""
        if prediction.at_risk is None:
            return []
        flagged = self.flagged(prediction.at_risk).tolist()
        if prediction.at_risk_leaves is None:
            reasons: list[list[Reason]] = [[] for _ in flagged]
        else:
            layout, matrix = prediction.layout, prediction.matrix
            contributions = prediction.at_risk_contributions
            towards, _ = rank_reasons(contributions, ~np.isnan(matrix))
            reasons = picked_reasons(layout.columns, matrix, contributions, towards, categories)
        return list(zip(prediction.at_risk.tolist(), flagged, reasons, strict=True))
