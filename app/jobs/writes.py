"""Write a scored chunk in bulk: stage the rows, then one set-based update of the customers.

PostgreSQL fills the staging table with COPY, SQLite with one executemany; both then run
the same `UPDATE customer ... FROM stage` guarded by each customer's row version, so a
customer a webhook rescored since the chunk was read is left alone (and reported, for the
caller to read again). History and outbox rows are written only for the customers updated.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, text
from sqlalchemy.orm import Session

from app.db import UTCDateTime
from app.scoring.service import state_change_payload
from app.tables import CustomerScore, Notification
from training.features import RAW_COUNT_INPUTS

STAGE = "rescore_stage"
_STAGED = ("customer_id", "row_version", *RAW_COUNT_INPUTS, "state", "confidence", "action_code")
_SQL_TYPES = {"customer_id": "VARCHAR(128)", "state": "VARCHAR(16)", "action_code": "VARCHAR(64)"}


@dataclass(frozen=True)
class Scored:
    """One customer's new inputs and score, and the row version and state it was read with."""

    customer_id: str
    row_version: int
    old_state: str | None
    counts: tuple[int | None, ...]
    read: dict[str, Any]
    """The API's view of the score (`to_json`), stored as the customer's latest score."""


def write_chunk(
    session: Session, rows: Sequence[Scored], *, as_of: datetime, model_version: str
) -> set[str]:
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
    moved = [r for r in rows if r.customer_id in written and r.old_state != r.read["state"]]
    if moved:
        _history(session, moved, as_of=as_of)
    return written


def _stage(session: Session, rows: Sequence[Scored], *, postgres: bool) -> None:
    types = [_SQL_TYPES.get(n, "FLOAT" if n == "confidence" else "INTEGER") for n in _STAGED]
    columns = ", ".join(f"{n} {t}" for n, t in zip(_STAGED, types, strict=True))
    document = "JSON" if postgres else "TEXT"
    keep = " ON COMMIT DELETE ROWS" if postgres else ""
    session.execute(
        text(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ({columns}, latest_score {document}){keep}")
    )
    values = [
        (
            r.customer_id,
            r.row_version,
            *r.counts,
            r.read["state"],
            r.read["confidence"],
            r.read["next_action"]["code"],
            json.dumps(r.read, separators=(",", ":")),
        )
        for r in rows
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


def _history(session: Session, moved: Sequence[Scored], *, as_of: datetime) -> None:
    """A history row for every state change and, for customers scored before, a notification."""
    session.execute(
        insert(CustomerScore),
        [
            {
                "customer_id": r.customer_id,
                "scored_at": as_of,
                "as_of": as_of,
                "previous_state": r.old_state,
                "state": r.read["state"],
                "confidence": r.read["confidence"],
                "probabilities": r.read["probabilities"],
                "model_version": r.read["model_version"],
                "action_code": r.read["next_action"]["code"],
                "source": "rescore",
            }
            for r in moved
        ],
    )
    told = [r for r in moved if r.old_state is not None]
    if told:
        session.execute(
            insert(Notification),
            [
                {
                    "notification_id": f"msg_{uuid.uuid4().hex}",
                    "customer_id": r.customer_id,
                    "created_at": as_of,
                    "payload": state_change_payload(r.customer_id, r.old_state, r.read),
                }
                for r in told
            ],
        )
