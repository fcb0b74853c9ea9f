"""Score customers from API inputs, and store inputs and scores for those with an id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.metrics import Metrics
from app.scoring.advice import Advisor
from app.scoring.checks import CLOCK_SKEW, check_inputs
from app.scoring.results import ScoreView, document_of
from app.scoring.schemas import CustomerRequest
from app.scoring.serving import ServingModel
from app.scoring.state_changes import StateChange, record_changes
from app.tables import Customer
from training.features import RAW_COUNT_INPUTS
from training.prediction import Predictor, RawInputs


def resolve_as_of(as_of: datetime | None, now: datetime) -> datetime:
    """Default to now; refuse a time in the future."""
    if as_of is None:
        return now
    if as_of > now + CLOCK_SKEW:
        raise InvalidInput(f"as_of {as_of.isoformat()} is in the future", field="as_of")
    return as_of.astimezone(UTC)


def raw_inputs(items: Sequence[CustomerRequest]) -> RawInputs:
    """The requests' raw inputs, as the checks and the model read them."""
    return RawInputs.of_rows([vars(item) for item in items])


@dataclass(frozen=True)
class CheckedRequest:
    """Requests ready to score: the model for all of them, their inputs, their time."""

    predictor: Predictor
    inputs: RawInputs
    as_of: datetime


def check_request(
    serving: ServingModel,
    items: Sequence[CustomerRequest],
    *,
    as_of: datetime | None,
    prefix: str = "",
) -> CheckedRequest:
    """Take the served model once (another may be activated meanwhile), resolve the time and
    refuse what cannot be scored: InvalidInput naming the field (`prefix` and a position
    name a batch's items)."""
    predictor = serving.predictor
    when = resolve_as_of(as_of, datetime.now(UTC))
    inputs = raw_inputs(items)
    check_inputs(items, inputs.values, predictor.model, when, prefix=prefix)
    return CheckedRequest(predictor, inputs, when)


def score_requests(
    advisor: Advisor,
    predictor: Predictor,
    items: Sequence[CustomerRequest],
    inputs: RawInputs,
    *,
    as_of: datetime,
) -> list[ScoreView]:
    """Score checked requests (`inputs`: their `raw_inputs`) in one model call."""
    kinds = [item.objection_kind for item in items]
    scores = advisor.score(predictor, inputs, kinds, as_of=as_of)
    return scores.views([item.customer_id for item in items])


def predict(
    serving: ServingModel,
    advisor: Advisor,
    metrics: Metrics,
    items: Sequence[CustomerRequest],
    *,
    as_of: datetime | None,
) -> list[ScoreView]:
    """Validate and score a batch; nothing is stored (see `store_scores`)."""
    checked = check_request(serving, items, as_of=as_of, prefix="customers.")
    views = score_requests(advisor, checked.predictor, items, checked.inputs, as_of=checked.as_of)
    count_states(metrics, views)
    return views


def count_states(metrics: Metrics, views: Sequence[ScoreView]) -> None:
    """Count predictions by state, one metric update per state."""
    for state, count in Counter(view["state"] for view in views).items():
        metrics.predictions.labels(state=state).inc(count)


def store_scores(
    session: Session, items: Sequence[CustomerRequest], views: Sequence[ScoreView]
) -> None:
    """Upsert the inputs and latest score of customers with an id; add history on a change."""
    now = datetime.now(UTC)
    pairs = [(item, view) for item, view in zip(items, views, strict=True) if item.customer_id]
    if not pairs:
        return
    ids = [item.customer_id for item, _ in pairs]
    existing = {
        c.customer_id: c
        for c in session.scalars(select(Customer).where(Customer.customer_id.in_(ids)))
    }
    changes: list[StateChange] = []
    for item, view in pairs:
        assert item.customer_id is not None
        customer = existing.get(item.customer_id)
        if customer is None:
            customer = Customer(customer_id=item.customer_id, created_at=now, extras={})
            session.add(customer)
        for name in RAW_COUNT_INPUTS:
            setattr(customer, name, getattr(item, name))
        customer.first_contact_at = item.first_contact_at
        customer.last_contact_at = item.last_contact_at
        customer.inputs_as_of = datetime.fromisoformat(view["as_of"])
        customer.extras = dict(item.extras)
        customer.objection_kind = item.objection_kind
        customer.updated_at = now
        if customer.state != view["state"]:
            changes.append(StateChange(customer.state, view))
        customer.state = view["state"]
        customer.confidence = view["confidence"]
        customer.action_code = view["next_action"]["code"]
        customer.at_risk = None if view["at_risk"] is None else view["at_risk"]["probability"]
        customer.model_version = view["model_version"]
        customer.scored_at = now
        customer.latest_score = cast(dict[str, Any], document_of(view))  # JSON as it is
    session.flush()  # the customers' rows exist before their history refers to them
    record_changes(session, changes, now=now, source="api")
