"""Store delivered events once, recompute the touched customers' inputs, rescore them.

Everything happens in the caller's transaction: a delivery is stored, applied and scored
together or not at all, and the sender gets its 2xx only after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, get_args

import pandas as pd
from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.scoring.actions import ObjectionKind
from app.scoring.scorer import Scorer
from app.scoring.service import record_score
from app.tables import Customer, InteractionEvent
from app.webhooks.schemas import CrmEvent, as_payload
from training.design import design_array
from training.features import (
    RAW_COUNT_INPUTS,
    epoch_seconds_of,
    feature_matrix,
    raw_inputs_from_events,
    raw_values,
)

CLOCK_SKEW = timedelta(minutes=5)
OBJECTION_KINDS = frozenset(get_args(ObjectionKind))


def store_events(
    session: Session, events: Sequence[CrmEvent], *, source: str, now: datetime
) -> list[CrmEvent]:
    """Insert events not seen before (unique on source and event id); return the new ones."""
    for n, event in enumerate(events):
        if event.occurred_at > now + CLOCK_SKEW:
            raise InvalidInput(f"{n}.occurred_at is in the future", field=f"{n}.occurred_at")
    unique = list({e.event_id: e for e in events}.values())
    if not unique:
        return []
    rows = [
        {
            "source": source,
            "event_id": e.event_id,
            "customer_id": e.customer_id,
            "type": e.type.value,
            "occurred_at": e.occurred_at,
            "attributes": e.attributes,
            "payload": as_payload(e),
            "received_at": now,
        }
        for e in unique
    ]
    statement = (
        _insert(session)
        .on_conflict_do_nothing(index_elements=["source", "event_id"])
        .returning(InteractionEvent.event_id)
    )
    # Executemany with RETURNING: SQLAlchemy batches it within each database's limits.
    inserted = set(session.scalars(statement, rows))
    return [e for e in unique if e.event_id in inserted]


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    insert: Insert = module.insert(InteractionEvent)
    return insert


def refresh_customers(
    session: Session, scorer: Scorer, customer_ids: Sequence[str], *, as_of: datetime
) -> int:
    """Recompute inputs from every stored event of these customers, rescore; count changes."""
    if not customer_ids:
        return 0
    ids = sorted(set(customer_ids))
    history = session.execute(
        select(
            InteractionEvent.customer_id,
            InteractionEvent.type,
            InteractionEvent.occurred_at,
            InteractionEvent.attributes,
        ).where(InteractionEvent.customer_id.in_(ids))
    ).all()
    events = pd.DataFrame(history, columns=["customer_id", "type", "occurred_at", "attributes"])
    raw = raw_inputs_from_events(events, as_of, customer_ids=ids)
    customers = {
        c.customer_id: c
        for c in session.scalars(select(Customer).where(Customer.customer_id.in_(ids)))
    }
    for customer_id in ids:
        if customer_id not in customers:
            customer = Customer(customer_id=customer_id, created_at=as_of, extras={})
            session.add(customer)
            customers[customer_id] = customer
    kinds = _latest_objection_kinds(events)
    counts = {name: raw[name].to_numpy().astype(int).tolist() for name in RAW_COUNT_INPUTS}
    firsts, lasts = raw["first_contact_at"].tolist(), raw["last_contact_at"].tolist()
    for i, customer_id in enumerate(ids):
        customer = customers[customer_id]
        for name in RAW_COUNT_INPUTS:
            setattr(customer, name, counts[name][i])
        customer.first_contact_at = _when(firsts[i])
        customer.last_contact_at = _when(lasts[i])
        customer.inputs_as_of = as_of
        customer.objection_kind = kinds.get(customer_id, customer.objection_kind)
        customer.updated_at = as_of
    return _rescore(session, scorer, [customers[i] for i in ids], raw, as_of)


def _rescore(
    session: Session,
    scorer: Scorer,
    customers: list[Customer],
    raw: pd.DataFrame,
    as_of: datetime,
) -> int:
    serving = scorer.serving
    layout = serving.model.layout
    extras = {
        k: [(c.extras or {}).get(k) for c in customers]
        for k in layout.extra_numeric + layout.extra_categorical
    }
    core = feature_matrix(raw_values(raw), epoch_seconds_of(as_of))
    matrix = design_array(core, extras, layout)
    kinds = [c.objection_kind for c in customers]
    ids = [c.customer_id for c in customers]
    reads = scorer.score(matrix, kinds, as_of=as_of, serving=serving).reads(ids)
    changes = 0
    for customer, read in zip(customers, reads, strict=True):
        changes += customer.state is not None and customer.state != read["state"]
        record_score(session, customer, read, now=as_of, source="webhook")
    session.flush()
    return changes


def _latest_objection_kinds(events: pd.DataFrame) -> dict[str, str]:
    objections = events[events["type"] == "objection"].sort_values("occurred_at")
    kinds: dict[str, str] = {}
    for customer_id, attributes in zip(
        objections["customer_id"], objections["attributes"], strict=True
    ):
        kind = (attributes or {}).get("objection_kind")
        if isinstance(kind, str) and kind in OBJECTION_KINDS:  # others mean nothing here
            kinds[str(customer_id)] = kind
    return kinds


def _when(value: Any) -> datetime | None:
    return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()
