"""Store delivered events once, recompute the touched customers' inputs, rescore them.

Everything happens in the caller's transaction: a delivery is stored, applied and scored
together or not at all, and the sender gets its 2xx only after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, get_args

import numpy as np
import numpy.typing as npt
import orjson
from sqlalchemy.orm import Session

from app.bulk import Bulk, EventRow, for_session
from app.errors import InvalidInput
from app.scoring.actions import ObjectionKind
from app.scoring.advice import Advisor
from app.scoring.checks import CLOCK_SKEW
from app.scoring.results import ScoredCustomers, ScoreView, StoredScore, render
from app.scoring.serving import ServingModel
from app.scoring.state_changes import (
    StateChange,
    record_changes,
    record_risk_rises,
    risk_rose,
)
from app.webhooks.schemas import CrmEvent, as_payload
from training.features import (
    KIND_INDEX,
    RAW_COUNT_INPUTS,
    aggregate_events,
    datetime_of,
    epoch_seconds_of,
)
from training.prediction import RawInputs

OBJECTION_KINDS = frozenset(get_args(ObjectionKind))


def check_times(events: Sequence[CrmEvent], *, now: datetime) -> None:
    """Refuse events from the future (beyond clock skew), naming the first one."""
    for n, event in enumerate(events):
        if event.occurred_at > now + CLOCK_SKEW:
            raise InvalidInput(f"{n}.occurred_at is in the future", field=f"{n}.occurred_at")


def store_events(
    session: Session, events: Sequence[CrmEvent], *, source: str, now: datetime
) -> list[CrmEvent]:
    """Insert events not seen before (unique on source and event id); return the new ones."""
    check_times(events, now=now)
    inserted = insert_new(session, [(source, e) for e in events], now=now)
    return take_inserted(inserted, source, events)


def take_inserted(
    inserted: set[tuple[str, str]], source: str, events: Sequence[CrmEvent]
) -> list[CrmEvent]:
    """The events of a delivery that `insert_new` stored, taking their keys out of `inserted`:
    an id given twice (in this delivery or a later one of its group) was stored once, as
    its first copy, and any other copy is a duplicate."""
    new = []
    for event in events:
        key = (source, event.event_id)
        if key in inserted:
            inserted.discard(key)
            new.append(event)
    return new


def insert_new(
    session: Session, tagged: Sequence[tuple[str, CrmEvent]], *, now: datetime
) -> set[tuple[str, str]]:
    """Insert each (source, event) not stored yet; the (source, event id) of those inserted.

    An event given twice is inserted once (the first time it is given).
    """
    first = {(source, e.event_id): (source, e) for source, e in reversed(tagged)}
    # In key order: concurrent transactions inserting the same events wait, never deadlock.
    unique = [first[key] for key in sorted(first)]
    if not unique:
        return set()
    rows: list[EventRow] = [
        {
            "source": source,
            "event_id": e.event_id,
            "customer_id": e.customer_id,
            "type": e.type.value,
            "occurred_at": e.occurred_at,
            "attributes": e.attributes,
            "payload": as_payload(e),
        }
        for source, e in unique
    ]
    return for_session(session).insert_events(rows, now=now)


def refresh_customers(
    session: Session,
    serving: ServingModel,
    advisor: Advisor,
    customer_ids: Sequence[str],
    *,
    as_of: datetime,
) -> set[str]:
    """Recompute inputs from every stored event of these customers, rescore them; return
    those whose state changed (a first score is no change).

    The customers' rows are created if new and locked (in id order, so deliveries touching
    the same customers queue instead of deadlocking) before their events are read: a delivery
    for the same customer committed meanwhile is then seen, and the last writer's inputs
    always include every event. All in bulk statements, straight from rows to arrays: a
    delivery's handful of customers made pandas' and the ORM's fixed costs most of its time.
    """
    if not customer_ids:
        return set()
    ids = sorted(set(customer_ids))
    bulk = for_session(session)
    bulk.create_customers(ids, now=as_of)
    stored = bulk.lock_customers(ids)
    history, seconds = bulk.read_history(ids)
    position = {customer_id: i for i, customer_id in enumerate(ids)}
    now = epoch_seconds_of(as_of)
    values = aggregate_events(
        np.array([position[row[0]] for row in history], dtype=np.intp),
        np.array([KIND_INDEX[row[1]] for row in history], dtype=np.intp),
        seconds,
        customers=len(ids),
        now=now,
    )
    latest = _latest_objection_kinds(history)
    kinds = [latest.get(i, stored[i][2]) for i in ids]
    extras = [stored[i][1] or {} for i in ids]
    scores = advisor.score(
        serving.predictor, RawInputs.of_columns(values, extras), kinds, as_of=as_of
    )
    # Stored documents for all; the API's fuller view only for the few whose state moved.
    documents = scores.documents()
    states = scores.states
    _update(bulk, ids, values, kinds, scores, documents, as_of)
    moved = [n for n, customer_id in enumerate(ids) if stored[customer_id][0] != states[n]]

    def view(n: int) -> ScoreView:
        return render(
            documents[n],
            customer_id=ids[n],
            state=states[n],
            confidence=scores.confidence[n],
            model_version=scores.model_version,
        )

    changes = [StateChange(stored[ids[n]][0], view(n)) for n in moved]
    record_changes(session, changes, now=as_of, source="webhook")
    risks, threshold = scores.at_risk_probabilities, advisor.at_risk_threshold
    rose = [n for n, i in enumerate(ids) if risk_rose(stored[i][3], risks[n], threshold)]
    record_risk_rises(session, [view(n) for n in rose], now=as_of, source="webhook")
    return {ids[n] for n in moved if stored[ids[n]][0] is not None}


def _update(
    bulk: Bulk,
    ids: list[str],
    values: dict[str, npt.NDArray[np.float64]],
    kinds: list[str | None],
    scores: ScoredCustomers,
    documents: list[StoredScore],
    as_of: datetime,
) -> None:
    """Store the new inputs and scores in one statement; the row version moves on, so the
    nightly run does not overwrite them with its older view."""
    counts = {name: values[name].astype(int).tolist() for name in RAW_COUNT_INPUTS}
    firsts, lasts = values["first_contact_at"].tolist(), values["last_contact_at"].tolist()
    rows = [
        {
            "customer_id": customer_id,
            **{name: counts[name][i] for name in RAW_COUNT_INPUTS},
            "first_contact_at": datetime_of(firsts[i]),
            "last_contact_at": datetime_of(lasts[i]),
            "objection_kind": kinds[i],
            "state": state,
            "confidence": confidence,
            "action_code": action["code"],
            "at_risk": risk,
            "latest_score": document,
        }
        for i, (customer_id, state, confidence, action, risk, document) in enumerate(
            zip(
                ids,
                scores.states,
                scores.confidence,
                scores.actions,
                scores.at_risk_probabilities,
                documents,
                strict=True,
            )
        )
    ]
    bulk.update_customers(rows, model_version=scores.model_version, now=as_of)


def _latest_objection_kinds(history: Sequence[Any]) -> dict[str, str]:
    """Each customer's latest objection kind (kinds the playbook does not know, or none
    given, leave it as it was). Events a few minutes ahead of the clock count too: the
    nightly run counts them later but never reads kinds again."""
    objections = sorted((row for row in history if row[1] == "objection"), key=lambda r: r[2])
    kinds: dict[str, str] = {}
    for customer_id, _, _, attributes in objections:
        parsed = orjson.loads(attributes) if attributes else None
        kind = parsed.get("objection_kind") if isinstance(parsed, dict) else None
        if isinstance(kind, str) and kind in OBJECTION_KINDS:
            kinds[str(customer_id)] = kind
    return kinds
