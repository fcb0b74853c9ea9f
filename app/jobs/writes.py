"""Write a scored chunk in bulk: stage the rows, then one set-based update of the customers.

PostgreSQL fills the staging table with COPY, SQLite with one executemany; both then run
the same `UPDATE customer ... FROM stage` guarded by each customer's row version, so a
customer a webhook rescored since the chunk was read is left alone (and reported, for the
caller to read again). History and outbox rows are written only for the customers updated.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, insert, text
from sqlalchemy.orm import Session

from app.db import UTCDateTime
from app.scoring.service import state_change_payload
from app.tables import CustomerScore, Notification
from training.features import RAW_COUNT_INPUTS

STAGE = "rescore_stage"
_STAGED = ("customer_id", "row_version", *RAW_COUNT_INPUTS, "state", "confidence", "action_code")
_HISTORY = cast(Table, CustomerScore.__table__)
_OUTBOX = cast(Table, Notification.__table__)
_SQL_TYPES = {"customer_id": "VARCHAR(128)", "state": "VARCHAR(16)", "action_code": "VARCHAR(64)"}


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
    reads: list[dict[str, Any]]
    """The API's view of each score (`ScoreRead`), stored as the customer's latest score."""

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: Sequence[int]) -> Scored:
        """The customers at positions `rows`."""
        return Scored(
            ids=[self.ids[i] for i in rows],
            versions=[self.versions[i] for i in rows],
            old_states=[self.old_states[i] for i in rows],
            counts=[self.counts[i] for i in rows],
            reads=[self.reads[i] for i in rows],
        )

    def __add__(self, other: Scored) -> Scored:
        return Scored(
            ids=self.ids + other.ids,
            versions=self.versions + other.versions,
            old_states=self.old_states + other.old_states,
            counts=self.counts + other.counts,
            reads=self.reads + other.reads,
        )


def write_chunk(session: Session, rows: Scored, *, as_of: datetime, model_version: str) -> set[str]:
    """Store the rows whose customers did not change since they were read; return their ids."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    _stage(session, rows, postgres=dialect == "postgresql")
    sets = ", ".join(f"{name} = s.{name}" for name in (*RAW_COUNT_INPUTS, *_STAGED[-3:]))
    update = text(
        f"UPDATE customer SET {sets}, latest_score = s.latest_score, inputs_as_of = :as_of,"
        " scored_at = :as_of, model_version = :version, row_version = customer.row_version + 1"
        f" FROM {STAGE} AS s WHERE customer.customer_id = s.customer_id"
        " AND customer.row_version = s.row_version RETURNING customer.customer_id"
    ).bindparams(bindparam("as_of", type_=UTCDateTime()), bindparam("version"))
    written = set(session.scalars(update, {"as_of": as_of, "version": model_version}))
    moved = [
        i
        for i, (customer_id, old, read) in enumerate(
            zip(rows.ids, rows.old_states, rows.reads, strict=True)
        )
        if old != read["state"] and customer_id in written
    ]
    if moved:
        _history(session, rows.take(moved), as_of=as_of)
    return written


def _stage(session: Session, rows: Scored, *, postgres: bool) -> None:
    types = [_SQL_TYPES.get(n, "FLOAT" if n == "confidence" else "INTEGER") for n in _STAGED]
    columns = ", ".join(f"{n} {t}" for n, t in zip(_STAGED, types, strict=True))
    document = "JSON" if postgres else "TEXT"
    keep = " ON COMMIT DELETE ROWS" if postgres else ""
    session.execute(
        text(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ({columns}, latest_score {document}){keep}")
    )
    dumps = orjson.dumps
    values = [
        (
            customer_id,
            version,
            *counts,
            read["state"],
            read["confidence"],
            read["next_action"]["code"],
            dumps(read).decode(),
        )
        for customer_id, version, counts, read in zip(
            rows.ids, rows.versions, rows.counts, rows.reads, strict=True
        )
    ]
    raw = session.connection().connection.driver_connection
    assert raw is not None
    if postgres:
        names = ", ".join((*_STAGED, "latest_score"))
        with raw.cursor() as cursor, cursor.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
    else:
        cursor = raw.cursor()
        cursor.execute(f"DELETE FROM {STAGE}")
        marks = ", ".join("?" * (len(_STAGED) + 1))
        cursor.executemany(f"INSERT INTO {STAGE} VALUES ({marks})", values)
        cursor.close()


def _history(session: Session, moved: Scored, *, as_of: datetime) -> None:
    """A history row for every state change and, for customers scored before, a notification."""
    # Core inserts on the tables: the ORM's bulk path costs more than the rows themselves.
    session.execute(
        insert(_HISTORY),
        [
            {
                "customer_id": customer_id,
                "scored_at": as_of,
                "as_of": as_of,
                "previous_state": old,
                "state": read["state"],
                "confidence": read["confidence"],
                "probabilities": read["probabilities"],
                "model_version": read["model_version"],
                "action_code": read["next_action"]["code"],
                "source": "rescore",
            }
            for customer_id, old, read in zip(moved.ids, moved.old_states, moved.reads, strict=True)
        ],
    )
    told = [
        (customer_id, old, read)
        for customer_id, old, read in zip(moved.ids, moved.old_states, moved.reads, strict=True)
        if old is not None
    ]
    if told:
        session.execute(
            insert(_OUTBOX),
            [
                {
                    "notification_id": f"msg_{uuid.uuid4().hex}",
                    "customer_id": customer_id,
                    "created_at": as_of,
                    "payload": state_change_payload(customer_id, old, read),
                }
                for customer_id, old, read in told
            ],
        )
