"""Outbox endpoints: see deliveries (dead ones especially) and retry them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from app.deps import AdminKey, SessionDep
from app.errors import NotFound
from app.input_types import LookupId
from app.tables import NotificationDelivery

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


class DeliveryStatusRead(BaseModel):
    """One notification's delivery to one subscriber."""

    notification_id: str
    url: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    last_error: str | None


@router.get("")
def list_deliveries(
    session: SessionDep,
    _: AdminKey,
    status: Literal["pending", "delivered", "dead"] = "dead",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryStatusRead]:
    """List deliveries by status, newest first (default: dead ones, which need a decision)."""
    query = select(NotificationDelivery)
    if status == "dead":
        query = query.where(NotificationDelivery.dead_at.is_not(None))
    elif status == "delivered":
        query = query.where(NotificationDelivery.delivered_at.is_not(None))
    else:
        query = query.where(
            NotificationDelivery.dead_at.is_(None), NotificationDelivery.delivered_at.is_(None)
        )
    rows = session.scalars(query.order_by(NotificationDelivery.id.desc()).limit(limit))
    return [DeliveryStatusRead.model_validate(r, from_attributes=True) for r in rows]


@router.post("/{notification_id}/retry")
def retry_delivery(
    notification_id: LookupId, session: SessionDep, _: AdminKey
) -> list[DeliveryStatusRead]:
    """Give a notification's dead deliveries a fresh set of attempts, due now."""
    rows = list(
        session.scalars(
            select(NotificationDelivery).where(
                NotificationDelivery.notification_id == notification_id
            )
        )
    )
    if not rows:
        raise NotFound(
            f"no deliveries for notification {notification_id!r}", field="notification_id"
        )
    now = datetime.now(UTC)
    for row in rows:
        if row.dead_at is not None:
            row.dead_at = None
            row.attempts = 0
            row.next_attempt_at = now
    session.commit()
    return [DeliveryStatusRead.model_validate(r, from_attributes=True) for r in rows]
