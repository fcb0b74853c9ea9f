"""One model call's results, as columns, and the two forms they leave in: read and stored.

The API answers with a *read* (the `ScoreRead` schema: reasons as sentences, the full next
action). The database keeps a compact *document* per customer in `customer.latest_score`:

    {"as_of": ..., "p": [five probabilities in funnel order],
     "for": [[feature, value, contribution], ...], "against": [...], "action": {...}}

State, confidence, model version and customer id are columns of the same row, and a reason's
sentence follows from its feature and value, so none of them is stored twice. Half the bytes
and no sentence-writing matter when the nightly run rewrites every customer; `render` turns
a document back into exactly the read the API gave (a test holds the two to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from app.scoring.reasons import Reason, describe
from training.features import STATES


@dataclass(frozen=True)
class Scores:
    """Scores of a batch of customers, a column per field, in the batch's order."""

    model_version: str
    as_of: datetime
    winners: npt.NDArray[np.intp]
    """Index of each customer's state in `STATES`."""
    probabilities: list[list[float]]
    confidence: list[float]
    reasons_for: list[list[Reason]]
    """Each customer's strongest signals towards its state; stored as JSON arrays."""
    reasons_against: list[list[Reason]]
    actions: list[dict[str, Any]]
    """The `NextActionRead` of each; customers given the same fixed action share one object."""

    def __len__(self) -> int:
        return len(self.confidence)

    @property
    def states(self) -> list[str]:
        """Each customer's state."""
        return [STATES[w] for w in self.winners.tolist()]

    def reads(self, customer_ids: Sequence[str | None]) -> list[dict[str, Any]]:
        """The API's view of each score (the `ScoreRead` schema), JSON-ready."""
        when = iso(self.as_of)
        return [
            {
                "customer_id": customer_id,
                "state": state,
                "probabilities": dict(zip(STATES, row, strict=True)),
                "confidence": sure,
                "model_version": self.model_version,
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
            }
            for customer_id, state, row, sure, pro, con, action in zip(
                customer_ids,
                self.states,
                self.probabilities,
                self.confidence,
                self.reasons_for,
                self.reasons_against,
                self.actions,
                strict=True,
            )
        ]

    def documents(self) -> list[dict[str, Any]]:
        """What the database keeps of each score (see the module's docstring)."""
        when = iso(self.as_of)
        return [
            {"as_of": when, "p": row, "for": pro, "against": con, "action": action}
            for row, pro, con, action in zip(
                self.probabilities,
                self.reasons_for,
                self.reasons_against,
                self.actions,
                strict=True,
            )
        ]


def document_of(read: dict[str, Any]) -> dict[str, Any]:
    """The stored document of one read (for the paths that score a few customers)."""
    return {
        "as_of": read["as_of"],
        "p": [read["probabilities"][s] for s in STATES],
        "for": [[r["feature"], r["value"], r["contribution"]] for r in read["reasons_for"]],
        "against": [[r["feature"], r["value"], r["contribution"]] for r in read["reasons_against"]],
        "action": read["next_action"],
    }


def render(
    document: dict[str, Any],
    *,
    customer_id: str,
    state: str,
    confidence: float,
    model_version: str,
) -> dict[str, Any]:
    """The read a stored document was made from, with the row's own columns put back.

    Documents stored before the compact form are reads already and come back as they are.
    """
    if "reasons_for" in document:
        return document
    return {
        "customer_id": customer_id,
        "state": state,
        "probabilities": dict(zip(STATES, document["p"], strict=True)),
        "confidence": confidence,
        "model_version": model_version,
        "as_of": document["as_of"],
        "reasons_for": [_reason(r) for r in document["for"]],
        "reasons_against": [_reason(r) for r in document["against"]],
        "next_action": document["action"],
    }


def stored_action(document: dict[str, Any] | None) -> dict[str, Any]:
    """The next action in a stored document of either form ({} when there is none)."""
    if not document:
        return {}
    action: dict[str, Any] = document.get("action") or document.get("next_action") or {}
    return action


def iso(when: datetime) -> str:
    """A time as the API writes it: ISO 8601, UTC as `Z`."""
    return when.isoformat().replace("+00:00", "Z")


def _reason(reason: Reason | list[Any]) -> dict[str, Any]:
    feature, value, contribution = reason
    return {
        "feature": feature,
        "value": value,
        "contribution": contribution,
        "text": describe(feature, value),
    }
