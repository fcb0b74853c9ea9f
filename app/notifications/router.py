"""Outbox endpoints: see deliveries (dead ones especially) and retry them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import AdminKey, SessionDep
from app.input_types import LookupId
from app.notifications import service
from app.notifications.schemas import DeliveryStatusRead
from app.notifications.service import DeliveryStatus

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


@router.get("")
def list_deliveries(
    session: SessionDep,
    _: AdminKey,
    status: DeliveryStatus = "dead",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryStatusRead]:
    """List deliveries by status, newest first (default: dead ones, which need a decision)."""
    rows = service.list_deliveries(session, status=status, limit=limit)
    return [DeliveryStatusRead.model_validate(r, from_attributes=True) for r in rows]


@router.post("/{notification_id}/retry")
def retry_delivery(
    notification_id: LookupId, session: SessionDep, _: AdminKey
) -> list[DeliveryStatusRead]:
    """Give a notification's dead deliveries a fresh set of attempts, due now."""
    rows = service.retry(session, notification_id=notification_id, now=datetime.now(UTC))
    session.commit()
    return [DeliveryStatusRead.model_validate(r, from_attributes=True) for r in rows]
