"""Score customers from API inputs, and store inputs and scores for those with an id."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.metrics import Metrics
from app.scoring.checks import CLOCK_SKEW, check_inputs
from app.scoring.results import document_of
from app.scoring.schemas import CustomerRequest
from app.scoring.serving import Scorer, Serving, raw_inputs, request_matrix
from app.tables import Customer, CustomerScore, Notification
from training.features import RAW_COUNT_INPUTS


def resolve_as_of(as_of: datetime | None, now: datetime) -> datetime:
    """Default to now; refuse a time in the future."""
    if as_of is None:
        return now
    if as_of > now + CLOCK_SKEW:
        raise InvalidInput(f"as_of {as_of.isoformat()} is in the future", field="as_of")
    return as_of.astimezone(UTC)


def score_items(
    scorer: Scorer,
    items: Sequence[CustomerRequest],
    as_of: datetime,
    serving: Serving,
    raw: npt.NDArray[np.float64] | None = None,
) -> list[dict[str, Any]]:
    """Score checked inputs in one model call; the API's view of each (`ScoreRead`).

    `raw` is `raw_inputs` of the items when the caller has it already.
    """
    rows = [vars(item) for item in items]
    raw = raw_inputs(rows) if raw is None else raw
    matrix = request_matrix(raw, rows, as_of, serving.model.layout)
    kinds = [item.objection_kind for item in items]
    ids = [item.customer_id for item in items]
    return scorer.score(matrix, kinds, as_of=as_of, serving=serving).reads(ids)


def predict(
    scorer: Scorer,
    metrics: Metrics,
    items: Sequence[CustomerRequest],
    *,
    as_of: datetime | None,
) -> list[dict[str, Any]]:
    """Validate and score; nothing is stored (see `store_scores`)."""
    now = datetime.now(UTC)
    when = resolve_as_of(as_of, now)
    serving = scorer.serving  # one model for the whole request, even if another is activated
    raw = raw_inputs([vars(item) for item in items])
    check_inputs(items, raw, serving.model, when, prefix="customers.")
    reads = score_items(scorer, items, when, serving, raw)
    for state, count in Counter(read["state"] for read in reads).items():
        metrics.predictions.labels(state=state).inc(count)
    return reads


def store_scores(
    session: Session,
    items: Sequence[CustomerRequest],
    reads: Sequence[dict[str, Any]],
    *,
    source: str = "api",
) -> None:
    """Upsert the inputs and latest score of customers with an id; add history on a change."""
    now = datetime.now(UTC)
    pairs = [(item, read) for item, read in zip(items, reads, strict=True) if item.customer_id]
    if not pairs:
        return
    ids = [item.customer_id for item, _ in pairs]
    existing = {
        c.customer_id: c
        for c in session.scalars(select(Customer).where(Customer.customer_id.in_(ids)))
    }
    for item, read in pairs:
        assert item.customer_id is not None
        customer = existing.get(item.customer_id)
        if customer is None:
            customer = Customer(customer_id=item.customer_id, created_at=now, extras={})
            session.add(customer)
        for name in RAW_COUNT_INPUTS:
            setattr(customer, name, getattr(item, name))
        customer.first_contact_at = item.first_contact_at
        customer.last_contact_at = item.last_contact_at
        customer.inputs_as_of = datetime.fromisoformat(read["as_of"])
        customer.extras = dict(item.extras)
        customer.objection_kind = item.objection_kind
        customer.updated_at = now
        record_score(session, customer, read, now=now, source=source)
    session.flush()


def state_change_payload(
    customer_id: str, old_state: str | None, read: dict[str, Any]
) -> dict[str, Any]:
    """The outbox notification's body: what subscribers are told about a state change."""
    return {
        "type": "customer.state_changed",
        "customer_id": customer_id,
        "old_state": old_state,
        "new_state": read["state"],
        "probabilities": read["probabilities"],
        "reasons_for": read["reasons_for"],
        "reasons_against": read["reasons_against"],
        "next_action": read["next_action"],
        "model_version": read["model_version"],
        "as_of": read["as_of"],
    }


def record_score(
    session: Session, customer: Customer, read: dict[str, Any], *, now: datetime, source: str
) -> None:
    """Set the customer's latest score; keep history of state changes only.

    A change caused by an event or the nightly run (not by the CRM's own API call) also goes
    to the outbox in the same transaction, so it is sent if and only if the score is stored.
    """
    if customer.state is not None and customer.state != read["state"] and source != "api":
        session.add(
            Notification(
                notification_id=f"msg_{uuid.uuid4().hex}",
                customer_id=customer.customer_id,
                created_at=now,
                payload=state_change_payload(customer.customer_id, customer.state, read),
            )
        )
    if customer.state != read["state"]:
        session.add(
            CustomerScore(
                customer_id=customer.customer_id,
                scored_at=now,
                as_of=datetime.fromisoformat(read["as_of"]),
                previous_state=customer.state,
                state=read["state"],
                confidence=read["confidence"],
                probabilities=read["probabilities"],
                model_version=read["model_version"],
                action_code=read["next_action"]["code"],
                source=source,
            )
        )
    customer.state = read["state"]
    customer.confidence = read["confidence"]
    customer.action_code = read["next_action"]["code"]
    customer.model_version = read["model_version"]
    customer.scored_at = now
    customer.latest_score = document_of(read)
