"""The outbox seen from the API: deliveries by status, and a retry of the dead ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.tables import NotificationDelivery

DeliveryStatus = Literal["pending", "delivered", "dead"]


def list_deliveries(
    session: Session, *, status: DeliveryStatus, limit: int
) -> Sequence[NotificationDelivery]:
    """Deliveries with `status`, newest first."""
    d = NotificationDelivery
    query = select(d)
    if status == "dead":
        query = query.where(d.dead_at.is_not(None))
    elif status == "delivered":
        query = query.where(d.delivered_at.is_not(None))
    else:
        query = query.where(d.dead_at.is_(None), d.delivered_at.is_(None))
    return list(session.scalars(query.order_by(d.id.desc()).limit(limit)))


def retry(session: Session, *, notification_id: str, now: datetime) -> list[NotificationDelivery]:
    """Give the notification's dead deliveries a fresh set of attempts, due `now`; all of its
    deliveries. NotFound when it has none."""
    d = NotificationDelivery
    rows = list(session.scalars(select(d).where(d.notification_id == notification_id)))
    if not rows:
        raise NotFound(
            f"no deliveries for notification {notification_id!r}", field="notification_id"
        )
    for row in rows:
        if row.dead_at is not None:
            row.dead_at = None
            row.attempts = 0
            row.next_attempt_at = now
    session.flush()
    return rows
