"""The bulk statements on SQLite: in-process and without round trips, so the portable
statements and the driver's executemany, through the primary key where rows are updated."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import (
    JSON,
    ColumnClause,
    ColumnElement,
    Table,
    Text,
    bindparam,
    column,
    select,
    table,
    update,
)
from sqlalchemy import cast as cast_as
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from app.bulk.rows import (
    UPDATED,
    CustomerScores,
    EventRow,
    HistoryEvent,
    ScoredColumns,
    Stored,
    staged_rows,
)
from app.db import Base, UTCDateTime, driver_connection, stored_time
from app.tables import Customer, InteractionEvent, shard_key
from training.features import FloatArray, epoch_seconds_of

_CUSTOMER = cast(Table, Customer.__table__)
_EVENT = cast(Table, InteractionEvent.__table__)
_VERSIONS = table("customer", column("customer_id"), column("row_version"))


class SqliteBulk:
    """The bulk operations (`app.bulk.Bulk`) as SQLite runs them fastest."""

    times_in_us = False

    def __init__(self, session: Session) -> None:
        self._session = session

    def contact_time(self, time: ColumnClause[Any]) -> ColumnElement[Any]:
        """The timestamp as stored (text, which `epoch_seconds` parses a column at a time)."""
        return time

    def insert(self, table: type[Base]) -> sqlite.Insert:
        """SQLite's INSERT, which takes ON CONFLICT clauses."""
        return sqlite.insert(table)

    def insert_events(self, rows: list[EventRow], *, now: datetime) -> set[tuple[str, str]]:
        """Insert the events not stored yet; the (source, event id) of each one inserted.

        Sets each row's `received_at`.
        """
        for row in rows:
            row["received_at"] = now
        statement = (
            sqlite.insert(InteractionEvent)
            .on_conflict_do_nothing(index_elements=["source", "event_id"])
            .returning(InteractionEvent.source, InteractionEvent.event_id)
        )
        # Executemany with RETURNING: SQLAlchemy batches it within SQLite's limits.
        return {(row[0], row[1]) for row in self._session.execute(statement, rows)}

    def create_customers(self, ids: Sequence[str], *, now: datetime) -> None:
        """Insert rows for customers not seen before (nothing for those that exist)."""
        statement = sqlite.insert(_CUSTOMER).on_conflict_do_nothing(index_elements=["customer_id"])
        self._session.execute(
            statement,
            [
                {
                    "customer_id": customer_id,
                    "shard_key": shard_key(customer_id),
                    "inputs_as_of": now,
                    "extras": {},
                    "created_at": now,
                    "updated_at": now,
                    "row_version": 1,
                }
                for customer_id in ids
            ],
        )

    def lock_customers(self, ids: Sequence[str]) -> dict[str, Stored]:
        """The customers' rows in id order, FOR UPDATE where the database has it (SQLite locks
        the whole database for a write)."""
        c = _CUSTOMER.c
        locked = self._session.execute(
            select(c.customer_id, c.state, c.extras, c.objection_kind, c.at_risk)
            .where(c.customer_id.in_(ids))
            .order_by(c.customer_id)
            .with_for_update()
        )
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in locked}

    def read_history(self, ids: Sequence[str]) -> tuple[Sequence[HistoryEvent], FloatArray]:
        """Every stored event of the customers, occurred at as a datetime."""
        e = _EVENT.c
        rows = self._session.execute(
            # Attributes as text: only objections' are read (their kind), so only those parse.
            select(e.customer_id, e.type, e.occurred_at, cast_as(e.attributes, Text)).where(
                e.customer_id.in_(ids)
            )
        ).all()
        history = cast(Sequence[HistoryEvent], rows)
        seconds = np.array([epoch_seconds_of(row[2]) for row in history], dtype=np.float64)
        return history, seconds

    def update_customers(
        self, rows: list[CustomerScores], *, model_version: str, now: datetime
    ) -> None:
        """Store new inputs and scores, one executemany statement through the primary key."""
        # SQLAlchemy reserves a column's own name for its SET value: the rows' values bind as v_*.
        types: dict[str, Any] = {
            "first_contact_at": UTCDateTime(),
            "last_contact_at": UTCDateTime(),
            "latest_score": JSON(),
        }
        c = _CUSTOMER.c
        statement = (
            update(_CUSTOMER)
            .where(c.customer_id == bindparam("v_customer_id"))
            .values(
                {
                    **{
                        name: bindparam(f"v_{name}", type_=types.get(name))
                        for name in rows[0]
                        if name != "customer_id"
                    },
                    "model_version": model_version,
                    "inputs_as_of": now,
                    "updated_at": now,
                    "scored_at": now,
                    "row_version": c.row_version + 1,
                }
            )
        )
        self._session.execute(statement, [{f"v_{k}": v for k, v in row.items()} for row in rows])

    def update_chunk(
        self,
        chunk: ScoredColumns,
        *,
        after: str,
        last: str,
        as_of: datetime,
        model_version: str,
    ) -> set[str]:
        """Read the row versions, then one executemany UPDATE of the customers still unchanged.

        SQLite's UPDATE ... FROM a staging table took three times as long as updating row by
        row through the primary key. The caller's transaction must already hold the write lock.
        """
        session = self._session
        c = _VERSIONS.c
        bounds = (c.customer_id > after) & (c.customer_id <= last)
        current = dict(session.execute(select(c.customer_id, c.row_version).where(bounds)).all())
        fresh = [
            i
            for i, (customer_id, seen) in enumerate(zip(chunk.ids, chunk.versions, strict=True))
            if current.get(customer_id) == seen
        ]
        when = stored_time(session, as_of)
        rows = staged_rows(chunk)
        unchanged = rows if len(fresh) == len(rows) else [rows[i] for i in fresh]
        params = [(*row[2:], when, when, model_version, row[0], row[1]) for row in unchanged]
        sets = ", ".join(f"{name} = ?" for name in (*UPDATED, "latest_score"))
        cursor = driver_connection(session).cursor()
        cursor.executemany(
            f"UPDATE customer SET {sets}, inputs_as_of = ?, scored_at = ?, model_version = ?,"
            " row_version = row_version + 1 WHERE customer_id = ? AND row_version = ?",
            params,
        )
        updated = cursor.rowcount
        cursor.close()
        if updated != len(params):
            raise RuntimeError(
                "a customer changed during its chunk's write: no write lock was held"
            )
        return {chunk.ids[i] for i in fresh}

    def insert_many(
        self,
        table_name: str,
        columns: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        *,
        json: tuple[str, ...] = (),  # noqa: ARG002  (JSON text binds as text here)
    ) -> None:
        """One executemany on the driver: SQLite has no round trips to save."""
        if not rows:
            return
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        cursor = driver_connection(self._session).cursor()
        try:
            cursor.executemany(f"INSERT INTO {table_name} ({names}) VALUES ({marks})", rows)
        finally:
            cursor.close()
