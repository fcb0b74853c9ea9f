"""Bulk database work behind one interface, a module per database.

The hot paths (webhook ingest, the nightly run, state changes) move many rows per statement,
and what is fastest differs by database: PostgreSQL takes one statement over a JSON document,
or a COPY; SQLite, in-process and without round trips, the portable statements and
executemany. Callers take `for_session(session)` and never ask which database they are on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnClause, ColumnElement
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.bulk.postgres import PostgresBulk
from app.bulk.rows import CustomerScores, EventRow, HistoryEvent, ScoredColumns, Stored
from app.bulk.sqlite import SqliteBulk
from app.db import Base, is_postgres
from training.features import FloatArray

__all__ = ["Bulk", "CustomerScores", "EventRow", "for_session"]


class Bulk(Protocol):
    """The database-specific statements of the hot paths, in one session's transaction."""

    times_in_us: bool
    """Whether `contact_time` reads times as integer epoch microseconds (else as stored)."""

    def contact_time(self, time: ColumnClause[Any]) -> ColumnElement[Any]:
        """A stored time as a bulk read takes it: the cheapest form to turn into seconds."""

    def insert(self, table: type[Base]) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that takes ON CONFLICT clauses, which the portable one lacks (upserts)."""

    def insert_events(self, rows: list[EventRow], *, now: datetime) -> set[tuple[str, str]]:
        """Insert the events not stored yet; the keys of those inserted, to tell duplicates."""

    def create_customers(self, ids: Sequence[str], *, now: datetime) -> None:
        """Insert rows for customers not seen before, so that every one of them can be locked."""

    def lock_customers(self, ids: Sequence[str]) -> dict[str, Stored]:
        """Lock the rows in id order, so deliveries queue, not deadlock; each one as stored."""

    def read_history(self, ids: Sequence[str]) -> tuple[Sequence[HistoryEvent], FloatArray]:
        """Every stored event of the customers and its time in epoch seconds, for the inputs."""

    def update_customers(
        self, rows: list[CustomerScores], *, model_version: str, now: datetime
    ) -> None:
        """Store inputs and scores, moving the row version on so the nightly run keeps off."""

    def update_chunk(
        self,
        chunk: ScoredColumns,
        *,
        after: str,
        last: str,
        as_of: datetime,
        model_version: str,
    ) -> set[str]:
        """Store the customers still at the version read, so no newer score is lost; their ids."""

    def insert_many(
        self,
        table_name: str,
        columns: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        *,
        json: tuple[str, ...] = (),
    ) -> None:
        """Insert rows on the driver: SQLAlchemy's per-value work cost more than the inserts."""


def for_session(session: Session) -> Bulk:
    """The bulk statements for the session's database."""
    return PostgresBulk(session) if is_postgres(session) else SqliteBulk(session)
