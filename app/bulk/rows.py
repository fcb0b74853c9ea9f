"""What both databases' bulk statements take and give: row shapes and column layouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, Protocol, TypedDict

from training.features import RAW_COUNT_INPUTS


class EventRow(TypedDict):
    """An event as `Bulk.insert_events` stores it."""

    source: str
    event_id: str
    customer_id: str
    type: str
    occurred_at: datetime
    attributes: dict[str, str | float | int | bool | None]
    payload: dict[str, Any]
    received_at: NotRequired[datetime]
    """Set by SQLite's `insert_events`, whose executemany binds it per row (PostgreSQL's
    statement binds it once)."""


Stored = tuple[str | None, dict[str, Any] | None, str | None, float | None]
"""A locked customer as stored: state, extras, objection kind and at-risk probability."""

HistoryEvent = tuple[str, str, Any, str | None]
"""A stored event: customer id, type, occurred at (as the database reads it fastest) and
attributes as JSON text (only objections' are parsed)."""

CustomerScores = dict[str, Any]
"""A customer's new inputs and scores, keyed by column: a dict, not a TypedDict, because the
count columns are named at run time (`RAW_COUNT_INPUTS`)."""

STAGED = (
    "customer_id",
    "row_version",
    *RAW_COUNT_INPUTS,
    "state",
    "confidence",
    "action_code",
    "at_risk",
)
"""A scored chunk's columns, in the order `staged_rows` gives them."""
UPDATED = STAGED[2:]
"""The staged columns that a chunk's update writes (the id and row version only guard it)."""


class ScoredColumns(Protocol):
    """A scored chunk, a column per field (`app.nightly.chunk_writes.ScoredChunk` is one): the
    nightly run's million customers stay columns until a statement takes them."""

    ids: list[str]
    versions: list[int]
    """The row version each customer was read with."""
    counts: list[tuple[int | None, ...]]
    """Each customer's `RAW_COUNT_INPUTS`."""
    states: list[str]
    confidence: list[float]
    action_codes: list[str]
    at_risk: list[float | None]
    documents: list[str]
    """Each score as the database keeps it, as JSON text."""


def staged_rows(chunk: ScoredColumns) -> list[tuple[Any, ...]]:
    """Each customer's `STAGED` columns, then its score document."""
    return [
        (customer_id, version, *counts, state, confidence, code, risk, document)
        for customer_id, version, counts, state, confidence, code, risk, document in zip(
            chunk.ids,
            chunk.versions,
            chunk.counts,
            chunk.states,
            chunk.confidence,
            chunk.action_codes,
            chunk.at_risk,
            chunk.documents,
            strict=True,
        )
    ]
