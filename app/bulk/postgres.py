"""The bulk statements on PostgreSQL: one statement per step, whatever the number of rows.

A delivery's steps send their rows as one JSON document that the server unpacks
(`json_to_recordset`), so a delivery of 100 events is five statements with fixed text
(prepared once per connection), not hundreds of executemany rows or an `IN (...)` list whose
text changes with its length; those were two thirds of a 100-event delivery's time. JSON
rather than arrays: orjson writes the whole document in C, where psycopg escapes text arrays
element by element. The nightly run's chunks go by COPY into a staging table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from sqlalchemy import BigInteger, ColumnClause, ColumnElement, bindparam, cast, func, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.bulk.rows import (
    STAGED,
    UPDATED,
    CustomerScores,
    EventRow,
    HistoryEvent,
    ScoredColumns,
    Stored,
    staged_rows,
)
from app.db import Base, UTCDateTime, driver_connection
from app.tables import shard_key
from training.features import RAW_COUNT_INPUTS, FloatArray

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
SELECT customer_id, state, extras::text, objection_kind, at_risk FROM customer
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
    action_code = u.action_code, at_risk = u.at_risk, latest_score = u.latest_score,
    model_version = %(model_version)s,
    inputs_as_of = %(now)s, updated_at = %(now)s, scored_at = %(now)s,
    row_version = c.row_version + 1
FROM json_to_recordset(%(rows)s::json) AS u(
    customer_id text, {_COUNT_TYPES}, first_contact_at timestamptz, last_contact_at timestamptz,
    objection_kind text, state text, confidence float8, action_code text, at_risk float8,
    latest_score json)
WHERE c.customer_id = u.customer_id
"""

STAGE = "rescore_stage"
_SQL_TYPES = {
    "customer_id": "VARCHAR(128)",
    "state": "VARCHAR(16)",
    "confidence": "FLOAT",
    "action_code": "VARCHAR(64)",
    "at_risk": "FLOAT",
}


class PostgresBulk:
    """The bulk operations (`app.bulk.Bulk`) as PostgreSQL runs them fastest."""

    times_in_us = True

    def __init__(self, session: Session) -> None:
        self._session = session

    def contact_time(self, time: ColumnClause[Any]) -> ColumnElement[Any]:
        """A timestamp as exact integer epoch microseconds, which `/ 1e6` turns into the very
        seconds `epoch_seconds` gives: psycopg would make a datetime object of every value."""
        return cast(func.extract("epoch", time) * 1_000_000, BigInteger).label(time.name)

    def insert(self, table: type[Base]) -> postgresql.Insert:
        """PostgreSQL's INSERT, which takes ON CONFLICT clauses."""
        return postgresql.insert(table)

    def insert_events(self, rows: list[EventRow], *, now: datetime) -> set[tuple[str, str]]:
        """Insert the events not stored yet; the (source, event id) of each one inserted."""
        with self._cursor() as cursor:
            cursor.execute(_INSERT_EVENTS, {"rows": _document(rows), "now": now})
            return {(source, event_id) for source, event_id in cursor.fetchall()}

    def create_customers(self, ids: Sequence[str], *, now: datetime) -> None:
        """Insert rows for customers not seen before (nothing for those that exist)."""
        rows = [{"customer_id": i, "shard_key": shard_key(i)} for i in ids]
        with self._cursor() as cursor:
            cursor.execute(_CREATE_CUSTOMERS, {"rows": _document(rows), "now": now})

    def lock_customers(self, ids: Sequence[str]) -> dict[str, Stored]:
        """Lock the customers' rows in id order; extras come as JSON text, parsed here."""
        with self._cursor() as cursor:
            cursor.execute(_LOCK_CUSTOMERS, {"ids": _document(list(ids))})
            return {row[0]: (row[1], _json(row[2]), row[3], row[4]) for row in cursor.fetchall()}

    def read_history(self, ids: Sequence[str]) -> tuple[Sequence[HistoryEvent], FloatArray]:
        """Every stored event of the customers, occurred at in epoch microseconds. Exact
        integers: turning them into seconds gives the same float as `epoch_seconds_of`,
        without a datetime object per event on the way."""
        with self._cursor() as cursor:
            cursor.execute(_HISTORY, {"ids": _document(list(ids))})
            history: list[HistoryEvent] = cursor.fetchall()
        return history, np.array([row[2] for row in history], dtype=np.int64) / 1e6

    def update_customers(
        self, rows: list[CustomerScores], *, model_version: str, now: datetime
    ) -> None:
        """Store new inputs and scores, one statement; a row per customer, keyed by column."""
        with self._cursor() as cursor:
            cursor.execute(
                _UPDATE_CUSTOMERS,
                {"rows": _document(rows), "model_version": model_version, "now": now},
            )

    def update_chunk(
        self,
        chunk: ScoredColumns,
        *,
        after: str,
        last: str,
        as_of: datetime,
        model_version: str,
    ) -> set[str]:
        """COPY into a staging table, then one set-based UPDATE guarded by the row versions."""
        session = self._session
        columns = ", ".join(f"{n} {_SQL_TYPES.get(n, 'INTEGER')}" for n in STAGED)
        session.execute(
            text(
                f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ({columns}, latest_score JSON)"
                " ON COMMIT DELETE ROWS"
            )
        )
        names = ", ".join((*STAGED, "latest_score"))
        rows = staged_rows(chunk)
        with (
            self._cursor() as cursor,
            cursor.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        sets = ", ".join(f"{name} = s.{name}" for name in UPDATED)
        # The key range keeps the join to the chunk's customers: for a stage without statistics
        # the planner otherwise hashes the whole customer table, once per chunk.
        update = text(
            f"UPDATE customer SET {sets}, latest_score = s.latest_score, inputs_as_of = :as_of,"
            " scored_at = :as_of, model_version = :version, row_version = customer.row_version + 1"
            f" FROM {STAGE} AS s WHERE customer.customer_id = s.customer_id"
            " AND customer.row_version = s.row_version"
            " AND customer.customer_id > :after AND customer.customer_id <= :last"
            " RETURNING customer.customer_id"
        ).bindparams(bindparam("as_of", type_=UTCDateTime()))
        bounds = {"after": after, "last": last}
        return set(session.scalars(update, {"as_of": as_of, "version": model_version, **bounds}))

    def insert_many(
        self,
        table_name: str,
        columns: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        *,
        json: tuple[str, ...] = (),
    ) -> None:
        """One statement over a JSON document typed by the table's own row type: a round trip
        per row was most of a delivery's state changes."""
        if not rows:
            return
        names = ", ".join(columns)
        positions = [i for i, column in enumerate(columns) if column in json]
        documents = []
        for row in rows:
            values = list(row)
            for i in positions:
                values[i] = orjson.Fragment(values[i])  # JSON text goes in as JSON
            documents.append(dict(zip(columns, values, strict=True)))
        with self._cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table_name} ({names}) SELECT {names} "
                f"FROM json_populate_recordset(NULL::{table_name}, %s::json)",
                (orjson.dumps(documents).decode(),),
            )

    def _cursor(self) -> Any:
        """A driver cursor in the session's transaction."""
        return driver_connection(self._session).cursor()


def _document(rows: object) -> str:
    return orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _json(text: str | None) -> Any:
    return orjson.loads(text) if text else None
