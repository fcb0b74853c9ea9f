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

from app.db import driver_connection, is_postgres, stored_time
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


def insert_many(
    session: Session,
    table_name: str,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    *,
    json: tuple[str, ...] = (),
) -> None:
    """Insert the rows on the driver, in the session's transaction: one statement over a
    JSON document on PostgreSQL, one executemany on SQLite.

    Times come as `stored_time` gives them; `json` names the columns given as JSON text.
    """
    if not rows:
        return
    cursor = driver_connection(session).cursor()
    names = ", ".join(columns)
    try:
        if is_postgres(session):
            # One statement over a JSON document typed by the table's own row type: a
            # round trip per row was most of a delivery's state changes.
            positions = [i for i, column in enumerate(columns) if column in json]
            documents = []
            for row in rows:
                values = list(row)
                for i in positions:
                    values[i] = orjson.Fragment(values[i])  # JSON text goes in as JSON
                documents.append(dict(zip(columns, values, strict=True)))
            cursor.execute(
                f"INSERT INTO {table_name} ({names}) SELECT {names} "
                f"FROM json_populate_recordset(NULL::{table_name}, %s::json)",
                (orjson.dumps(documents).decode(),),
            )
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT INTO {table_name} ({names}) VALUES ({marks})", rows)
    finally:
        cursor.close()
