"""A delivery's statements on PostgreSQL: one statement per step, whatever the delivery's size.

Each step sends its rows as one JSON document that the server unpacks (`json_to_recordset`),
so a delivery of 100 events is five statements with fixed text (prepared once per
connection), not hundreds of executemany rows or an `IN (...)` list whose text changes with
its length; those were two thirds of a 100-event delivery's time. JSON rather than arrays:
orjson writes the whole document in C, where psycopg escapes text arrays element by element.

SQLite, in-process and without round trips, keeps the portable statements in `service`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from app.tables import shard_key
from training.features import RAW_COUNT_INPUTS

_INSERT_EVENTS = """
INSERT INTO interaction_event
    (source, event_id, customer_id, type, occurred_at, attributes, payload, received_at)
SELECT u.source, u.event_id, u.customer_id, u.type, u.occurred_at, u.attributes, u.payload,
       %(now)s
FROM json_to_recordset(%(rows)s::json) AS u(
    source text, event_id text, customer_id text, type text, occurred_at timestamptz,
    attributes json, payload json)
ON CONFLICT (source, event_id) DO NOTHING
RETURNING source, event_id
"""

_CREATE_CUSTOMERS = """
INSERT INTO customer
    (customer_id, shard_key, inputs_as_of, extras, created_at, updated_at, row_version)
SELECT u.customer_id, u.shard_key, %(now)s, '{}'::json, %(now)s, %(now)s, 1
FROM json_to_recordset(%(rows)s::json) AS u(customer_id text, shard_key int)
ON CONFLICT (customer_id) DO NOTHING
"""

_LOCK_CUSTOMERS = """
SELECT customer_id, state, extras::text, objection_kind FROM customer
WHERE customer_id IN (SELECT json_array_elements_text(%(ids)s::json))
ORDER BY customer_id
FOR UPDATE
"""

_HISTORY = """
SELECT customer_id, type, (extract(epoch FROM occurred_at) * 1000000)::int8, attributes::text
FROM interaction_event
WHERE customer_id IN (SELECT json_array_elements_text(%(ids)s::json))
"""

_COUNTS = ", ".join(f"{name} = u.{name}" for name in RAW_COUNT_INPUTS)
_COUNT_TYPES = ", ".join(f"{name} int" for name in RAW_COUNT_INPUTS)
_UPDATE_CUSTOMERS = f"""
UPDATE customer AS c SET
    {_COUNTS},
    first_contact_at = u.first_contact_at, last_contact_at = u.last_contact_at,
    objection_kind = u.objection_kind, state = u.state, confidence = u.confidence,
    action_code = u.action_code, latest_score = u.latest_score,
    model_version = %(model_version)s,
    inputs_as_of = %(now)s, updated_at = %(now)s, scored_at = %(now)s,
    row_version = c.row_version + 1
FROM json_to_recordset(%(rows)s::json) AS u(
    customer_id text, {_COUNT_TYPES}, first_contact_at timestamptz, last_contact_at timestamptz,
    objection_kind text, state text, confidence float8, action_code text, latest_score json)
WHERE c.customer_id = u.customer_id
"""


def insert_events(
    cursor: Any, rows: list[dict[str, Any]], *, now: datetime
) -> set[tuple[str, str]]:
    """Insert the events not stored yet; the (source, event id) of each one inserted.

    A row: source, event_id, customer_id, type, occurred_at, attributes, payload.
    """
    cursor.execute(_INSERT_EVENTS, {"rows": _document(rows), "now": now})
    return {(source, event_id) for source, event_id in cursor.fetchall()}


def create_customers(cursor: Any, ids: Sequence[str], *, now: datetime) -> None:
    """Insert rows for customers not seen before (nothing for those that exist)."""
    rows = [{"customer_id": i, "shard_key": shard_key(i)} for i in ids]
    cursor.execute(_CREATE_CUSTOMERS, {"rows": _document(rows), "now": now})


def lock_customers(cursor: Any, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """Lock the customers' rows in id order; (id, state, extras as JSON text, objection kind)."""
    cursor.execute(_LOCK_CUSTOMERS, {"ids": _document(list(ids))})
    return list(cursor.fetchall())


def read_history(cursor: Any, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """Every stored event of the customers: (id, type, occurred at in epoch microseconds,
    attributes as JSON text). Exact integers: turning them into seconds gives the same float
    as `epoch_seconds_of`, without a datetime object per event on the way."""
    cursor.execute(_HISTORY, {"ids": _document(list(ids))})
    return list(cursor.fetchall())


def update_customers(
    cursor: Any, rows: list[dict[str, Any]], *, model_version: str, now: datetime
) -> None:
    """Store new inputs and scores, one statement; a row per customer, keyed by column."""
    cursor.execute(
        _UPDATE_CUSTOMERS,
        {"rows": _document(rows), "model_version": model_version, "now": now},
    )


def _document(rows: list[Any]) -> str:
    return orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY).decode()
