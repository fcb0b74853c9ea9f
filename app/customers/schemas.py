"""Bodies of the customer endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.scoring.schemas import ScoreRead


class StoredInputs(BaseModel):
    """The raw inputs last stored for a customer."""

    counts: dict[str, int | None]
    first_contact_at: datetime | None
    last_contact_at: datetime | None
    inputs_as_of: datetime
    objection_kind: str | None
    extras: dict[str, Any]


class HistoryRead(BaseModel):
    """One state change."""

    scored_at: datetime
    as_of: datetime
    previous_state: str | None
    state: str
    confidence: float
    model_version: str
    action_code: str
    source: str


class CustomerRead(BaseModel):
    """A customer: stored inputs, latest score, and state history (newest first)."""

    customer_id: str
    inputs: StoredInputs
    latest_score: ScoreRead | None
    history: list[HistoryRead]
    created_at: datetime
    updated_at: datetime


class QueueItem(BaseModel):
    """One row of a work queue."""

    customer_id: str
    state: str
    confidence: float
    action_code: str
    action_title: str | None
    urgency: str | None = None
    due_date: str | None
    top_reason: str | None = None
    """The strongest reason for the state, as a sentence."""
    scored_at: datetime
    model_version: str
    at_risk: float | None = None
    """The at-risk probability (docs/at_risk.md); None when scored without one."""


class CustomerPage(BaseModel):
    """A page of a work queue; pass `next_cursor` back as `cursor` for the next page."""

    items: list[QueueItem]
    next_cursor: str | None
