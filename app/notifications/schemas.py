"""Bodies of the outbox API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class DeliveryStatusRead(BaseModel):
    """One notification's delivery to one subscriber."""

    notification_id: str
    url: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    last_error: str | None
