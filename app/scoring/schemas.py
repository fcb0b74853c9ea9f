"""Request and response bodies of the scoring API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.input_types import CustomerId, TextMapping, Time
from app.scoring.actions import ObjectionKind
from training.features import MAX_COUNT

Count = Annotated[int, Field(ge=0, le=MAX_COUNT)] | None
"""A count: never negative, and within the 32-bit column it is stored in."""
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class CustomerInputs(BaseModel):
    """One customer's raw inputs; unknown counts may be left out (the model handles missing).

    Each value is checked here; values checked together (windows, contact order, the
    future) are `checks.py`'s, a batch's column at a time.
    """

    model_config = _STRICT

    visits: Count = None
    replies: Count = None
    quotes: Count = None
    objections: Count = None
    meetings: Count = None
    purchases: Count = None
    visits_30d: Count = None
    replies_30d: Count = None
    quotes_30d: Count = None
    objections_30d: Count = None
    meetings_30d: Count = None
    purchases_30d: Count = None
    visits_90d: Count = None
    replies_90d: Count = None
    quotes_90d: Count = None
    objections_90d: Count = None
    meetings_90d: Count = None
    purchases_90d: Count = None
    first_contact_at: Time | None = None
    last_contact_at: Time | None = None
    objection_kind: ObjectionKind | None = Field(
        default=None, description="Kind of the latest objection; the playbook uses it."
    )
    extras: Annotated[dict[str, float | str | None], TextMapping] = Field(
        default_factory=dict,
        description="Extra columns the model was trained with (from a mapping file).",
        max_length=100,
    )


AS_OF_DOC = "When the counts were taken (default: now); never in the future."


class CustomerRequest(CustomerInputs):
    """One customer; with `customer_id` the inputs and the score are stored."""

    customer_id: CustomerId | None = None


class PredictRequest(CustomerRequest):
    """Score one customer."""

    as_of: Time | None = Field(default=None, description=AS_OF_DOC)


class BatchRequest(BaseModel):
    """Customers scored together in one model call, all as of the same time."""

    model_config = _STRICT

    as_of: Time | None = Field(default=None, description=AS_OF_DOC)
    customers: list[CustomerRequest] = Field(min_length=1)


class ReasonRead(BaseModel):
    """A signal behind the prediction."""

    feature: str
    value: float | str | None
    contribution: float
    text: str


class NextActionRead(BaseModel):
    """The one action to take now."""

    code: str
    title: str
    why: list[str]
    urgency: str
    channel: str
    due_date: date


class AtRiskRead(BaseModel):
    """The at-risk flag: the chance that the customer falls back at least one state (a loyal
    customer: stops buying) within the model's horizon, 30 days (docs/at_risk.md)."""

    probability: float
    flagged: bool
    """The probability is at or above DEALNODE_AT_RISK_THRESHOLD (default 0.5)."""
    reasons: list[ReasonRead]
    """The strongest signals that raise the risk."""


class ScoreRead(BaseModel):
    """A prediction: state, probabilities, why, and what to do next."""

    customer_id: str | None
    state: str = Field(
        description="The state shown, chosen from the probabilities by the model's decision "
        "rule (docs/decision-rule.md): not always the most probable one, since the rule sees "
        "to it that intent and deciding customers are found."
    )
    probabilities: dict[str, float] = Field(description="Calibrated probability per state.")
    confidence: float = Field(description="The probability of the state shown.")
    model_version: str
    model_segment: str | None = Field(
        None,
        description="The segment whose own model scored the customer (a model trained with "
        "`--segment-by`, docs/segment-models.md); null: the global model.",
    )
    as_of: datetime
    reasons_for: list[ReasonRead]
    reasons_against: list[ReasonRead]
    next_action: NextActionRead
    at_risk: AtRiskRead | None = None
    """None when the serving model has no at-risk part (trained without the label)."""


class BatchRead(BaseModel):
    """Predictions in request order."""

    model_version: str
    results: list[ScoreRead]
