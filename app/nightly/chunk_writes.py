"""Write a scored chunk in bulk, never over a customer that changed since it was read.

Each customer's update is guarded by the row version it was read with, so a customer a
webhook rescored meanwhile is left alone (and reported, for the caller to read again).
PostgreSQL: COPY into a staging table, then one set-based UPDATE. SQLite: one executemany
UPDATE through the primary key (both in `app.bulk`). History and outbox rows go only with the
customers updated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

import orjson
from sqlalchemy.orm import Session

from app.bulk import for_session
from app.nightly.chunks import Span
from app.scoring.results import ScoreView, render
from app.scoring.state_changes import StateChange, record_changes, record_risk_rises


@dataclass
class ScoredChunk:
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
    at_risk: list[float | None]
    """Each customer's at-risk probability (None: the model has no at-risk part)."""
    risk_rose: list[bool]
    """Whether it crossed the threshold upwards (`state_changes.risk_rose`)."""
    documents: list[str]
    """What the database keeps of each score (`ScoredCustomers.documents`), as JSON text."""

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> ScoredChunk:
        """No customers (a chunk whose customers all went before it was read)."""
        return cls(**{f.name: [] for f in fields(cls)})

    def take(self, rows: Sequence[int]) -> ScoredChunk:
        """The customers at positions `rows`."""
        columns = {f.name: getattr(self, f.name) for f in fields(self)}
        return ScoredChunk(**{name: [column[i] for i in rows] for name, column in columns.items()})

    def __add__(self, other: ScoredChunk) -> ScoredChunk:
        return ScoredChunk(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def write_chunk(
    session: Session, rows: ScoredChunk, *, span: Span, as_of: datetime, model_version: str
) -> set[str]:
    """Store the rows whose customers did not change since they were read; return their ids.

    `span` is where the rows lie, as the database drew it: its bounds are compared in the
    database's own collation, which may order ids differently from Python.

    On SQLite the caller's transaction must already hold the write lock (any write takes
    it): the row versions are read first and must not change before the update.
    """
    if not rows:
        return set()
    written = for_session(session).update_chunk(
        rows, after=span.after, last=span.last, as_of=as_of, model_version=model_version
    )
    moved = [
        i
        for i, (customer_id, old, state) in enumerate(
            zip(rows.ids, rows.old_states, rows.states, strict=True)
        )
        if old != state and customer_id in written
    ]
    if moved:
        _history(session, rows.take(moved), as_of=as_of, model_version=model_version)
    rose = [
        i
        for i, (customer_id, up) in enumerate(zip(rows.ids, rows.risk_rose, strict=True))
        if up and customer_id in written
    ]
    if rose:
        risen = rows.take(rose)
        record_risk_rises(session, _views(risen, model_version), now=as_of, source="rescore")
    return written


def _history(session: Session, moved: ScoredChunk, *, as_of: datetime, model_version: str) -> None:
    """History and outbox rows for the customers whose state changed (`state_changes.py`)."""
    reads = _views(moved, model_version)
    changes = [StateChange(old, read) for old, read in zip(moved.old_states, reads, strict=True)]
    record_changes(session, changes, now=as_of, source="rescore")


def _views(rows: ScoredChunk, model_version: str) -> list[ScoreView]:
    """The API's view of each row's score, for the few that notify."""
    return [
        render(
            orjson.loads(document),
            customer_id=customer_id,
            state=state,
            confidence=confidence,
            model_version=model_version,
        )
        for customer_id, state, confidence, document in zip(
            rows.ids, rows.states, rows.confidence, rows.documents, strict=True
        )
    ]
