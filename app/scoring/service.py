"""Score customers from API inputs, and store inputs and scores for those with an id."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.metrics import Metrics
from app.scoring.schemas import CustomerRequest
from app.scoring.scorer import Scorer, Serving, request_matrix
from app.scoring.scores import document_of
from app.tables import Customer, CustomerScore, Notification
from training.artifacts import LoadedModel
from training.features import RAW_COUNT_INPUTS, TIME_INPUTS

CLOCK_SKEW = timedelta(minutes=5)
"""Clients' clocks run a little ahead; more than this is an error, not skew."""


def resolve_as_of(as_of: datetime | None, now: datetime) -> datetime:
    """Default to now; refuse a time in the future."""
    if as_of is None:
        return now
    if as_of > now + CLOCK_SKEW:
        raise InvalidInput(f"as_of {as_of.isoformat()} is in the future", field="as_of")
    return as_of.astimezone(UTC)


def check_inputs(
    items: Sequence[CustomerRequest], model: LoadedModel, as_of: datetime, prefix: str = ""
) -> None:
    """Refuse what parsed but cannot be scored: future contacts, extras the model lacks."""
    known = set(model.layout.extra_numeric) | set(model.layout.extra_categorical)
    seen: set[str] = set()
    for n, item in enumerate(items):
        where = f"{prefix}{n}." if prefix else ""
        for name in TIME_INPUTS:
            value = getattr(item, name)
            if value is not None and value > as_of + CLOCK_SKEW:
                raise InvalidInput(
                    f"{where}{name} is after as_of (in the future)", field=where + name
                )
        for key, value in item.extras.items():
            if key not in known:
                allowed = ", ".join(sorted(known)) or "none"
                raise InvalidInput(
                    f"{where}extras.{key}: this model has no such input (it knows: {allowed})",
                    field=f"{where}extras.{key}",
                )
            if key in model.layout.extra_numeric and isinstance(value, str):
                raise InvalidInput(
                    f"{where}extras.{key} must be a number", field=f"{where}extras.{key}"
                )
        if item.customer_id is not None:
            if item.customer_id in seen:
                raise InvalidInput(
                    f"{where}customer_id {item.customer_id!r} appears twice",
                    field=where + "customer_id",
                )
            seen.add(item.customer_id)


def score_items(
    scorer: Scorer, items: Sequence[CustomerRequest], as_of: datetime, serving: Serving
) -> list[dict[str, Any]]:
    """Score validated inputs in one model call; the API's view of each (`ScoreRead`)."""
    rows = [vars(item) for item in items]
    matrix = request_matrix(rows, as_of, serving.model.layout)
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
    check_inputs(items, serving.model, when, prefix="customers." if len(items) > 1 else "")
    reads = score_items(scorer, items, when, serving)
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
