"""Read customers and work queues."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from app.customers.schemas import CustomerPage, CustomerRead, HistoryRead, QueueItem, StoredInputs
from app.errors import InvalidInput, NotFound
from app.scoring.results import StoredScore, render, stored_action, stored_top_reason
from app.scoring.schemas import ScoreRead
from app.tables import Customer, CustomerScore, InteractionEvent
from training.features import RAW_COUNT_INPUTS
from training.input_rules import is_lookup_id

HISTORY_LIMIT = 100
QueueOrder = Literal["most_confident", "least_confident"]
"""Most confident first (sure calls to act on), or least (customers to qualify better)."""


def get_customer(session: Session, *, customer_id: str) -> Customer | None:
    """The customer, or None."""
    return session.get(Customer, customer_id)


def require_customer(session: Session, *, customer_id: str) -> Customer:
    """The customer, or NotFound (404)."""
    customer = get_customer(session, customer_id=customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id!r}", field="customer_id")
    return customer


def read_customer(session: Session, *, customer_id: str) -> CustomerRead:
    """Stored inputs, latest score and the newest state changes."""
    customer = require_customer(session, customer_id=customer_id)
    history = session.scalars(
        select(CustomerScore)
        .where(CustomerScore.customer_id == customer_id)
        .order_by(CustomerScore.id.desc())
        .limit(HISTORY_LIMIT)
    )
    return CustomerRead(
        customer_id=customer.customer_id,
        inputs=StoredInputs(
            counts={name: getattr(customer, name) for name in RAW_COUNT_INPUTS},
            first_contact_at=customer.first_contact_at,
            last_contact_at=customer.last_contact_at,
            inputs_as_of=customer.inputs_as_of,
            objection_kind=customer.objection_kind,
            extras=customer.extras or {},
        ),
        latest_score=_latest_score(customer),
        history=[HistoryRead.model_validate(h, from_attributes=True) for h in history],
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )


def _latest_score(customer: Customer) -> ScoreRead | None:
    if customer.latest_score is None or customer.state is None:
        return None
    read = render(
        cast(StoredScore, customer.latest_score),  # as `document_of` wrote it
        customer_id=customer.customer_id,
        state=customer.state,
        confidence=customer.confidence or 0.0,
        model_version=customer.model_version or "",
    )
    return ScoreRead.model_validate(read)


@dataclass(frozen=True)
class QueueFilter:
    """What a rep asks for: e.g. deciding customers with an open objection."""

    state: str | None = None
    action: str | None = None
    min_confidence: float | None = None
    open_objection: bool | None = None
    at_risk: bool | None = None
    """Flagged at risk (at or above `at_risk_threshold`), or not (below it, or no value)."""
    at_risk_threshold: float = 0.5
    silent_after_quote: bool | None = None
    """A quote in the last 90 days, then no contact for `quote_silence_days` up to `now` (the
    playbook's signal, measured to the wall clock: the queue is for calling today)."""
    quote_silence_days: int = 3
    now: datetime | None = None


def recent_events(session: Session, *, customer_id: str, limit: int) -> list[InteractionEvent]:
    """The customer's newest interaction events, newest first."""
    return list(
        session.scalars(
            select(InteractionEvent)
            .where(InteractionEvent.customer_id == customer_id)
            .order_by(InteractionEvent.occurred_at.desc(), InteractionEvent.id.desc())
            .limit(limit)
        )
    )


def encode_cursor(confidence: float, customer_id: str) -> str:
    """An opaque cursor: the sort key of the last row on a page."""
    raw = json.dumps([confidence, customer_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """Read a cursor back; a damaged one is the client's error, named as such."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        confidence, customer_id = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(customer_id, str) or not is_lookup_id(customer_id):
            raise ValueError("no id in the cursor")
        return float(confidence), customer_id
    except (ValueError, TypeError, OverflowError):
        raise InvalidInput("cursor is not one this API returned", field="cursor") from None


def list_queue(
    session: Session,
    *,
    where: QueueFilter,
    limit: int,
    cursor: str | None,
    order: QueueOrder = "most_confident",
) -> CustomerPage:
    """Scored customers in `order` (ties by id), keyset-paginated so pages never skip or repeat."""
    query = select(Customer).where(Customer.confidence.is_not(None))
    if where.state is not None:
        query = query.where(Customer.state == where.state)
    if where.action is not None:
        query = query.where(Customer.action_code == where.action)
    if where.min_confidence is not None:
        query = query.where(Customer.confidence >= where.min_confidence)
    if where.open_objection is not None:
        recent = Customer.__table__.c.objections_30d
        query = query.where(
            recent > 0 if where.open_objection else or_(recent.is_(None), recent == 0)
        )
    if where.at_risk is not None:
        risk = Customer.at_risk
        flagged = risk >= where.at_risk_threshold
        query = query.where(flagged if where.at_risk else or_(risk.is_(None), ~flagged))
    if where.silent_after_quote is not None:
        query = query.where(_silent_after_quote(where))
    # Customers flagged at risk are few and mostly unsure, deep in the queue's order: read
    # from the at-risk index and sorted, not found by walking the order index (+ 0 keeps the
    # planner off it, whose row estimate assumes the flagged are spread evenly along it).
    key = Customer.confidence + 0 if where.at_risk else Customer.confidence
    first = key.desc() if order == "most_confident" else key
    if cursor is not None:
        after_conf, after_id = decode_cursor(cursor)
        most = order == "most_confident"
        beyond = Customer.confidence < after_conf if most else Customer.confidence > after_conf
        # The bound repeats what the OR implies, in a form an index range starts from:
        # without it a deep page walks the index from the top and filters every row before.
        bound = Customer.confidence <= after_conf if most else Customer.confidence >= after_conf
        query = query.where(
            bound,
            or_(beyond, and_(Customer.confidence == after_conf, Customer.customer_id > after_id)),
        )
    query = query.order_by(first, Customer.customer_id).limit(limit + 1)
    rows = list(session.scalars(query))
    page = rows[:limit]
    items = [
        QueueItem.model_validate(
            {
                "customer_id": c.customer_id,
                "state": c.state,
                "confidence": c.confidence,
                "action_code": c.action_code,
                "action_title": stored_action(c.latest_score).get("title"),
                "urgency": stored_action(c.latest_score).get("urgency"),
                "due_date": stored_action(c.latest_score).get("due_date"),
                "top_reason": stored_top_reason(c.latest_score),
                "scored_at": c.scored_at,
                "model_version": c.model_version,
                "at_risk": c.at_risk,
            }
        )
        for c in page
    ]
    last = page[-1] if len(rows) > limit and page else None
    next_cursor = None if last is None else encode_cursor(last.confidence or 0.0, last.customer_id)
    return CustomerPage(items=items, next_cursor=next_cursor)


def _silent_after_quote(where: QueueFilter) -> ColumnElement[bool]:
    quotes = Customer.__table__.c.quotes_90d
    last = Customer.last_contact_at
    cutoff = (where.now or datetime.now(UTC)) - timedelta(days=where.quote_silence_days)
    silent = and_(quotes > 0, last <= cutoff)
    if where.silent_after_quote:
        return silent
    return or_(quotes.is_(None), quotes == 0, last.is_(None), last > cutoff)
