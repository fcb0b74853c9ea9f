"""The one writer of a state change: a history row and, for the CRM, an outbox notification.

Every path that scores (the API, the webhooks, the nightly run) comes here, in its scoring
transaction, so a change is reported if and only if its score is stored. Rows go in bulk
through the driver's executemany: SQLAlchemy's per-value processing (a JSON encoder, a time
conversion) cost more than the database's inserts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import orjson
from sqlalchemy.orm import Session

from app.bulk import for_session
from app.db import stored_time
from app.notifications.payload import at_risk_rose, state_changed
from app.scoring.history_days import mark_out_of_date
from app.scoring.results import ScoreView

Source = Literal["api", "webhook", "rescore"]
"""What caused a score: the CRM's own API call, an event it pushed, or the nightly run."""

HISTORY_COLUMNS = (
    "customer_id",
    "scored_at",
    "as_of",
    "previous_state",
    "state",
    "confidence",
    "probabilities",
    "model_version",
    "action_code",
    "source",
)


class StateChange(NamedTuple):
    """A customer whose new score's state differs from the one it had (None: first score)."""

    previous: str | None
    score: ScoreView


def notifies(change: StateChange, source: Source) -> bool:
    """Whether subscribers hear of a change: not of a first score (no change to report), and
    not of one the CRM caused by its own API call (it has the answer already)."""
    return change.previous is not None and source != "api"


def record_changes(
    session: Session, changes: Sequence[StateChange], *, now: datetime, source: Source
) -> None:
    """A history row for each change, and a notification for those that `notifies`.

    Changes dated before today (`now` is a nightly run's or an import's `as_of`) also put
    their day's summary out of date (`history_days.py`), so the funnel's trend counts them.
    """
    when = stored_time(session, now)
    bulk = for_session(session)
    bulk.insert_many(
        "customer_score",
        HISTORY_COLUMNS,
        [
            (
                score["customer_id"],
                when,
                stored_time(session, datetime.fromisoformat(score["as_of"])),
                previous,
                score["state"],
                score["confidence"],
                orjson.dumps(score["probabilities"]).decode(),
                score["model_version"],
                score["next_action"]["code"],
                source,
            )
            for previous, score in changes
        ],
        json=("probabilities",),
    )
    _outbox(
        session,
        [
            (change.score["customer_id"], when, _payload(change))
            for change in changes
            if notifies(change, source)
        ],
    )
    if changes:  # last: a back-dated writer holds its day's row until it commits
        mark_out_of_date(session, now, now=datetime.now(UTC))


def risk_rose(old: float | None, new: float | None, threshold: float) -> bool:
    """Whether an at-risk probability crossed the threshold upwards. An unknown old one (a
    first score, or one by a model without an at-risk part) is no crossing, like a first
    score is no state change: a new model must not alert on every flagged customer at once."""
    return old is not None and new is not None and old < threshold <= new


def record_risk_rises(
    session: Session, scores: Sequence[ScoreView], *, now: datetime, source: Source
) -> None:
    """A `customer.at_risk` notification for each score whose risk rose past the threshold
    (`risk_rose`), on the same rules as a state change: not for the CRM's own API call."""
    if source == "api" or not scores:
        return
    when = stored_time(session, now)
    rows = []
    for score in scores:
        customer_id = score["customer_id"]
        assert customer_id is not None  # only stored customers have a risk that rises
        rows.append((customer_id, when, at_risk_rose(customer_id, score)))
    _outbox(session, rows)


def _outbox(session: Session, rows: Sequence[tuple[str | None, Any, Any]]) -> None:
    """Outbox rows, (customer id, stored time, payload) each, in one statement."""
    for_session(session).insert_many(
        "notification",
        ("notification_id", "customer_id", "created_at", "payload"),
        [
            (f"msg_{uuid.uuid4().hex}", customer_id, when, orjson.dumps(payload).decode())
            for customer_id, when, payload in rows
        ],
        json=("payload",),
    )


def _payload(change: StateChange) -> Any:
    customer_id, previous = change.score["customer_id"], change.previous
    assert customer_id is not None  # only stored customers change state
    assert previous is not None  # `notifies`
    return state_changed(customer_id, previous, change.score)
