"""What a state change leaves behind: a history row and, for the CRM, an outbox notification.

Written in the scoring transaction, so a change is reported if and only if its score is
stored. The nightly run and the webhooks write many at once, through the driver's
executemany: SQLAlchemy's per-value processing (a JSON encoder, a time conversion) cost more
than the database's inserts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from app.bulk import insert_many
from app.db import stored_time
from app.scoring.service import state_change_payload

_HISTORY_COLUMNS = (
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


def record_changes(
    session: Session,
    changes: Sequence[tuple[str | None, dict[str, Any]]],
    *,
    now: datetime,
    source: str,
) -> None:
    """For each (previous state, read) whose state changed: a history row, and a notification
    when the customer had a state before (a first score is no change to report)."""
    when = stored_time(session, now)
    insert_many(
        session,
        "customer_score",
        _HISTORY_COLUMNS,
        [
            (
                read["customer_id"],
                when,
                stored_time(session, datetime.fromisoformat(read["as_of"])),
                old,
                read["state"],
                read["confidence"],
                orjson.dumps(read["probabilities"]).decode(),
                read["model_version"],
                read["next_action"]["code"],
                source,
            )
            for old, read in changes
        ],
        json=("probabilities",),
    )
    insert_many(
        session,
        "notification",
        ("notification_id", "customer_id", "created_at", "payload"),
        [
            (
                f"msg_{uuid.uuid4().hex}",
                read["customer_id"],
                when,
                orjson.dumps(state_change_payload(read["customer_id"], old, read)).decode(),
            )
            for old, read in changes
            if old is not None
        ],
        json=("payload",),
    )
