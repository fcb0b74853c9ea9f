"""What subscribers are told when a customer's state changes: the outbound body."""

from __future__ import annotations

from typing import Literal, TypedDict

from app.scoring.results import AtRiskView, NextActionView, ReasonView, ScoreView


class StateChangedPayload(TypedDict):
    """The `customer.state_changed` notification (documented as `StateChanged` in OpenAPI)."""

    type: Literal["customer.state_changed"]
    customer_id: str
    old_state: str
    new_state: str
    probabilities: dict[str, float]
    reasons_for: list[ReasonView]
    reasons_against: list[ReasonView]
    next_action: NextActionView
    model_version: str
    model_segment: str | None
    """The segment whose own model scored the customer; None: the global model."""
    as_of: str


class AtRiskPayload(TypedDict):
    """The `customer.at_risk` notification (documented as `AtRisk` in OpenAPI)."""

    type: Literal["customer.at_risk"]
    customer_id: str
    state: str
    at_risk: AtRiskView
    next_action: NextActionView
    model_version: str
    model_segment: str | None
    as_of: str


def at_risk_rose(customer_id: str, score: ScoreView) -> AtRiskPayload:
    """The notification that `score`'s at-risk probability has crossed the threshold upwards."""
    risk = score["at_risk"]
    assert risk is not None  # only a flagged score rises
    return {
        "type": "customer.at_risk",
        "customer_id": customer_id,
        "state": score["state"],
        "at_risk": risk,
        "next_action": score["next_action"],
        "model_version": score["model_version"],
        "model_segment": score.get("model_segment"),  # absent from views stored before it
        "as_of": score["as_of"],
    }


def state_changed(customer_id: str, old_state: str, score: ScoreView) -> StateChangedPayload:
    """The notification of a change from `old_state` to `score`'s state."""
    return {
        "type": "customer.state_changed",
        "customer_id": customer_id,
        "old_state": old_state,
        "new_state": score["state"],
        "probabilities": score["probabilities"],
        "reasons_for": score["reasons_for"],
        "reasons_against": score["reasons_against"],
        "next_action": score["next_action"],
        "model_version": score["model_version"],
        "model_segment": score.get("model_segment"),  # absent from views stored before it
        "as_of": score["as_of"],
    }
