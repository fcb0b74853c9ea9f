"""Write a scored chunk in bulk, never over a customer that changed since it was read.

Each customer's update is guarded by the row version it was read with, so a customer a
webhook rescored meanwhile is left alone (and reported, for the caller to read again).
PostgreSQL: COPY into a staging table, then one set-based UPDATE. SQLite: one executemany
UPDATE through the primary key. History and outbox rows go only with the customers updated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, column, select, table, text
from sqlalchemy.orm import Session

from app.db import UTCDateTime, driver_connection, is_postgres, stored_time
from app.nightly.chunks import Span
from app.scoring.results import render
from app.scoring.state_changes import record_changes
from training.features import RAW_COUNT_INPUTS

STAGE = "rescore_stage"
_STAGED = ("customer_id", "row_version", *RAW_COUNT_INPUTS, "state", "confidence", "action_code")
_UPDATED = _STAGED[2:]
_SQL_TYPES = {
    "customer_id": "VARCHAR(128)",
    "state": "VARCHAR(16)",
    "confidence": "FLOAT",
    "action_code": "VARCHAR(64)",
}
_CUSTOMER = table("customer", column("customer_id"), column("row_version"))


@dataclass
class Scored:
    """A chunk's new inputs and scores, a column each, with the row versions and states read.

    Columns rather than an object per customer: the nightly run writes a million of them.
    """

    ids: list[str]
    versions: list[int]
    old_states: list[str | None]
    counts: list[tuple[int | None, ...]]
    """Each customer's `RAW_COUNT_INPUTS`, as stored."""
    states: list[str]
    confidence: list[float]
    action_codes: list[str]
    documents: list[str]
    """What the database keeps of each score (`Scores.documents`), as JSON text."""

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> Scored:
        """No customers (a chunk whose customers all went before it was read)."""
        return cls(**{f.name: [] for f in fields(cls)})

    def take(self, rows: Sequence[int]) -> Scored:
        """The customers at positions `rows`."""
        columns = {f.name: getattr(self, f.name) for f in fields(self)}
        return Scored(**{name: [column[i] for i in rows] for name, column in columns.items()})

    def __add__(self, other: Scored) -> Scored:
        return Scored(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def write_chunk(
    session: Session, rows: Scored, *, span: Span, as_of: datetime, model_version: str
) -> set[str]:
    """Store the rows whose customers did not change since they were read; return their ids.

    `span` is where the rows lie, as the database drew it: its bounds are compared in the
    database's own collation, which may order ids differently from Python.

    On SQLite the caller's transaction must already hold the write lock (any write takes
    it): the row versions are read first and must not change before the update.
    """
    if not rows:
        return set()
    if is_postgres(session):
        written = _update_postgres(session, rows, span, as_of=as_of, version=model_version)
    else:
        written = _update_sqlite(session, rows, span, as_of=as_of, version=model_version)
    moved = [
        i
        for i, (customer_id, old, state) in enumerate(
            zip(rows.ids, rows.old_states, rows.states, strict=True)
        )
        if old != state and customer_id in written
    ]
    if moved:
        _history(session, rows.take(moved), as_of=as_of, model_version=model_version)
    return written


def _values(rows: Scored) -> list[tuple[Any, ...]]:
    """Each customer's `_STAGED` columns, then its score document."""
    return [
        (customer_id, version, *counts, state, confidence, code, document)
        for customer_id, version, counts, state, confidence, code, document in zip(
            rows.ids,
            rows.versions,
            rows.counts,
            rows.states,
            rows.confidence,
            rows.action_codes,
            rows.documents,
            strict=True,
        )
    ]


def _update_postgres(
    session: Session, rows: Scored, span: Span, *, as_of: datetime, version: str
) -> set[str]:
    """COPY into a staging table, then one set-based UPDATE guarded by the row versions."""
    columns = ", ".join(f"{n} {_SQL_TYPES.get(n, 'INTEGER')}" for n in _STAGED)
    session.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ({columns}, latest_score JSON)"
            " ON COMMIT DELETE ROWS"
        )
    )
    names = ", ".join((*_STAGED, "latest_score"))
    with (
        driver_connection(session).cursor() as cursor,
        cursor.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy,
    ):
        for value in _values(rows):
            copy.write_row(value)
    sets = ", ".join(f"{name} = s.{name}" for name in _UPDATED)
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
    bounds = {"after": span.after, "last": span.last}
    return set(session.scalars(update, {"as_of": as_of, "version": version, **bounds}))


def _update_sqlite(
    session: Session, rows: Scored, span: Span, *, as_of: datetime, version: str
) -> set[str]:
    """Read the row versions, then one executemany UPDATE of the customers still unchanged.

    SQLite's UPDATE ... FROM a staging table took three times as long as updating row by
    row through the primary key.
    """
    c = _CUSTOMER.c
    bounds = (c.customer_id > span.after) & (c.customer_id <= span.last)
    current = dict(session.execute(select(c.customer_id, c.row_version).where(bounds)).all())
    fresh = [
        i
        for i, (customer_id, seen) in enumerate(zip(rows.ids, rows.versions, strict=True))
        if current.get(customer_id) == seen
    ]
    when = stored_time(session, as_of)
    unchanged = rows if len(fresh) == len(rows) else rows.take(fresh)
    params = [(*value[2:], when, when, version, value[0], value[1]) for value in _values(unchanged)]
    sets = ", ".join(f"{name} = ?" for name in (*_UPDATED, "latest_score"))
    cursor = driver_connection(session).cursor()
    cursor.executemany(
        f"UPDATE customer SET {sets}, inputs_as_of = ?, scored_at = ?, model_version = ?,"
        " row_version = row_version + 1 WHERE customer_id = ? AND row_version = ?",
        params,
    )
    updated = cursor.rowcount
    cursor.close()
    if updated != len(params):
        raise RuntimeError("a customer changed during its chunk's write: no write lock was held")
    return {rows.ids[i] for i in fresh}


def _history(session: Session, moved: Scored, *, as_of: datetime, model_version: str) -> None:
    """History and outbox rows for the customers whose state changed (`history.py`)."""
    reads = [
        render(
            orjson.loads(document),
            customer_id=customer_id,
            state=state,
            confidence=confidence,
            model_version=model_version,
        )
        for customer_id, state, confidence, document in zip(
            moved.ids, moved.states, moved.confidence, moved.documents, strict=True
        )
    ]
    record_changes(
        session, list(zip(moved.old_states, reads, strict=True)), now=as_of, source="rescore"
    )
