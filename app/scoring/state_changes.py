"""The one writer of a state change: a history row and, for the CRM, an outbox notification.

Every path that scores (the API, the webhooks, the nightly run) comes here, in its scoring
transaction, so a change is reported if and only if its score is stored. Rows go in bulk
through the driver's executemany: SQLAlchemy's per-value processing (a JSON encoder, a time
conversion) cost more than the database's inserts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import orjson
from sqlalchemy import Dialect
from sqlalchemy.orm import Session

from app.db import UTCDateTime, driver_connection, is_postgres
from app.notifications.payload import state_changed
from app.scoring.results import ScoreView

Source = Literal["api", "webhook", "rescore"]
"""What caused a score: the CRM's own API call, an event it pushed, or the nightly run."""

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
    """A history row for each change, and a notification for those that `notifies`."""
    when = stored_time(session, now)
    insert_many(
        session,
        "customer_score",
        _HISTORY_COLUMNS,
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
    insert_many(
        session,
        "notification",
        ("notification_id", "customer_id", "created_at", "payload"),
        [
            (
                f"msg_{uuid.uuid4().hex}",
                change.score["customer_id"],
                when,
                orjson.dumps(_payload(change)).decode(),
            )
            for change in changes
            if notifies(change, source)
        ],
        json=("payload",),
    )


def _payload(change: StateChange) -> Any:
    customer_id, previous = change.score["customer_id"], change.previous
    assert customer_id is not None  # only stored customers change state
    assert previous is not None  # `notifies`
    return state_changed(customer_id, previous, change.score)


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


def stored_time(session: Session, value: datetime) -> Any:
    """`value` as SQLAlchemy binds it for this database, so raw and ORM writes agree."""
    process = _time_binder(session.get_bind().dialect)
    return value if process is None else process(value)


@lru_cache(maxsize=8)
def _time_binder(dialect: Dialect) -> Callable[[Any], Any] | None:
    # Looked up once per dialect: building it cost more than the rest of a history row.
    return UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
