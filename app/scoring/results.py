"""Scores of a batch of customers, and the two forms they leave in: a view and a stored document.

The API answers with a *view* (`ScoreView`, the `ScoreRead` schema: reasons as sentences, the
full next action). The database keeps a compact *document* per customer in
`customer.latest_score` (`StoredScore`):

    {"as_of": ..., "p": [five probabilities in funnel order],
     "for": [[feature, value, contribution], ...], "against": [...], "action": {...},
     "risk": [at-risk probability, flagged, [[feature, value, contribution], ...]] or null,
     "seg": the segment whose model scored it (only when a segment model did)}

(documents stored before the at-risk flag have no "risk": they render as `at_risk: null`;
a document without "seg" was scored by the global model and renders as `model_segment: null`.)

State, confidence, model version and customer id are columns of the same row, and a reason's
sentence follows from its feature and value, so none of them is stored twice: half the bytes
and no sentence-writing when the nightly run rewrites every customer. `render` turns a
document back into exactly the view the API gave (a test holds the two to it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, TypedDict, cast

import numpy as np
import numpy.typing as npt

from app.scoring.reasons import Reason, describe
from training.features import STATES


class ReasonView(TypedDict):
    """A signal behind a score (`ReasonRead`)."""

    feature: str
    value: float | str
    """Never unknown: an input the caller did not give is no reason (`rank_reasons`)."""
    contribution: float
    text: str


class NextActionView(TypedDict):
    """The one action to take now (`NextActionRead`), the due date in ISO form."""

    code: str
    title: str
    why: list[str]
    urgency: str
    channel: str
    due_date: str


class AtRiskView(TypedDict):
    """The at-risk flag (`AtRiskRead`): the chance of falling back a state within the model's
    horizon, whether it passes the threshold, and the signals that raise it."""

    probability: float
    flagged: bool
    reasons: list[ReasonView]


class ScoreView(TypedDict):
    """What the API answers for a customer (`ScoreRead`), JSON-ready."""

    customer_id: str | None
    state: str
    probabilities: dict[str, float]
    confidence: float
    model_version: str
    model_segment: str | None
    """The segment whose own model scored the customer; None: the global model."""
    as_of: str
    reasons_for: list[ReasonView]
    reasons_against: list[ReasonView]
    next_action: NextActionView
    at_risk: AtRiskView | None
    """None when the model has no at-risk part."""


StoredRisk = tuple[float, bool, list[Reason]]
"""The at-risk flag as stored: probability, flagged, reasons."""

StoredScore = TypedDict(
    "StoredScore",
    {
        "as_of": str,
        "p": list[float],
        "for": list[Reason],
        "against": list[Reason],
        "action": NextActionView,
        "risk": NotRequired[StoredRisk | None],
        "seg": NotRequired[str],
    },
)
"""What the database keeps of a score (see the module's docstring)."""


@dataclass(frozen=True)
class ScoredCustomers:
    """Scores of a batch of customers, a column per field, in the batch's order."""

    model_version: str
    as_of: datetime
    winners: npt.NDArray[np.intp]
    """Index of each customer's state in `STATES`."""
    probabilities: list[list[float]]
    confidence: list[float]
    reasons_for: list[list[Reason]]
    """Each customer's strongest signals towards its state."""
    reasons_against: list[list[Reason]]
    actions: list[NextActionView]
    """Customers given the same fixed action share one object."""
    at_risk: Sequence[StoredRisk | None] = ()
    """Each customer's at-risk flag (None each when the model has none); empty: none at all."""
    segments: Sequence[str | None] = ()
    """The segment model that scored each customer (None: the global model); empty: the
    global model scored them all."""

    def segment_names(self) -> Sequence[str | None]:
        """Each customer's segment model, None where the global model scored it."""
        return self.segments or [None] * len(self)

    def risks(self) -> Sequence[StoredRisk | None]:
        """Each customer's at-risk flag, None where there is none."""
        return self.at_risk or [None] * len(self)

    @property
    def at_risk_probabilities(self) -> list[float | None]:
        """Each customer's at-risk probability, as the customer row stores it."""
        return [None if risk is None else risk[0] for risk in self.risks()]

    def __len__(self) -> int:
        return len(self.confidence)

    @property
    def states(self) -> list[str]:
        """Each customer's state."""
        return [STATES[w] for w in self.winners.tolist()]

    def views(self, customer_ids: Sequence[str | None]) -> list[ScoreView]:
        """The API's view of each score."""
        when = iso(self.as_of)
        return [
            {
                "customer_id": customer_id,
                "state": state,
                "probabilities": dict(zip(STATES, row, strict=True)),
                "confidence": sure,
                "model_version": self.model_version,
                "model_segment": segment,
                "as_of": when,
                "reasons_for": [
                    {"feature": f, "value": v, "contribution": c, "text": describe(f, v)}
                    for f, v, c in pro
                ],
                "reasons_against": [
                    {"feature": f, "value": v, "contribution": c, "text": describe(f, v)}
                    for f, v, c in con
                ],
                "next_action": action,
                "at_risk": _risk_view(risk),
            }
            for customer_id, state, row, sure, pro, con, action, risk, segment in zip(
                customer_ids,
                self.states,
                self.probabilities,
                self.confidence,
                self.reasons_for,
                self.reasons_against,
                self.actions,
                self.risks(),
                self.segment_names(),
                strict=True,
            )
        ]

    def documents(self) -> list[StoredScore]:
        """What the database keeps of each score."""
        when = iso(self.as_of)
        documents: list[StoredScore] = [
            {"as_of": when, "p": row, "for": pro, "against": con, "action": action, "risk": risk}
            for row, pro, con, action, risk in zip(
                self.probabilities,
                self.reasons_for,
                self.reasons_against,
                self.actions,
                self.risks(),
                strict=True,
            )
        ]
        for document, segment in zip(documents, self.segments, strict=False):
            if segment is not None:
                document["seg"] = segment
        return documents


def document_of(view: ScoreView) -> StoredScore:
    """The stored document of one view (for the paths that score a few customers)."""
    document: StoredScore = {
        "as_of": view["as_of"],
        "p": [view["probabilities"][s] for s in STATES],
        "for": [_stored_reason(r) for r in view["reasons_for"]],
        "against": [_stored_reason(r) for r in view["reasons_against"]],
        "action": view["next_action"],
        "risk": _stored_risk(view["at_risk"]),
    }
    if view["model_segment"] is not None:
        document["seg"] = view["model_segment"]
    return document


def render(
    document: StoredScore | ScoreView,
    *,
    customer_id: str,
    state: str,
    confidence: float,
    model_version: str,
) -> ScoreView:
    """The view a stored document was made from, with the row's own columns put back.

    Documents stored before the compact form are views already and come back as they are
    (without `model_segment`, which `ScoreRead` reads as null: they predate segment models).
    """
    if "reasons_for" in document:
        return cast(ScoreView, document)
    return {
        "customer_id": customer_id,
        "state": state,
        "probabilities": dict(zip(STATES, document["p"], strict=True)),
        "confidence": confidence,
        "model_version": model_version,
        "model_segment": document.get("seg"),
        "as_of": document["as_of"],
        "reasons_for": [_reason_view(r) for r in document["for"]],
        "reasons_against": [_reason_view(r) for r in document["against"]],
        "next_action": document["action"],
        "at_risk": _risk_view(document.get("risk")),
    }


def stored_action(document: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The next action in a stored document of either form ({} when there is none)."""
    if not document:
        return {}
    action: Mapping[str, Any] = document.get("action") or document.get("next_action") or {}
    return action


def stored_top_reason(document: Mapping[str, Any] | None) -> str | None:
    """The sentence of the strongest reason for the state in a stored document of either form
    (None when there is none)."""
    if not document:
        return None
    compact = document.get("for")
    if compact:
        feature, value, _ = compact[0]
        return describe(feature, value)
    full = document.get("reasons_for")
    return str(full[0]["text"]) if full else None


def iso(when: datetime) -> str:
    """A time as the API writes it: ISO 8601, UTC as `Z`."""
    return when.isoformat().replace("+00:00", "Z")


def _risk_view(risk: StoredRisk | Sequence[Any] | None) -> AtRiskView | None:
    """A stored at-risk flag (a JSON array once read back) as the API shows it."""
    if risk is None:
        return None
    probability, flagged, reasons = risk
    return {
        "probability": probability,
        "flagged": flagged,
        "reasons": [_reason_view(r) for r in reasons],
    }


def _stored_risk(view: AtRiskView | None) -> StoredRisk | None:
    if view is None:
        return None
    return (view["probability"], view["flagged"], [_stored_reason(r) for r in view["reasons"]])


def _stored_reason(reason: ReasonView) -> Reason:
    return (reason["feature"], reason["value"], reason["contribution"])


def _reason_view(reason: Reason | Sequence[Any]) -> ReasonView:
    """A stored reason (a JSON array once read back) as the API shows it."""
    feature, value, contribution = reason
    return {
        "feature": feature,
        "value": value,
        "contribution": contribution,
        "text": describe(feature, value),
    }
