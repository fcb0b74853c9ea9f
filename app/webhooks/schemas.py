"""DealNode's own webhook event format."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.input_types import CustomerId, EventId, TextMapping, Time
from training.features import InteractionType


class CrmEvent(BaseModel):
    """One interaction as a CRM reports it."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    event_id: EventId
    customer_id: CustomerId
    type: InteractionType
    occurred_at: Time
    attributes: Annotated[dict[str, str | float | int | bool | None], TextMapping] = Field(
        default_factory=dict,
        max_length=50,
        description="E.g. objection_kind (price, after_sales, trust) or quote_value.",
    )


class DeliveryRead(BaseModel):
    """What happened to a delivery."""

    accepted: int
    duplicates: int
    ignored: int
    """HubSpot events no mapping rule matched."""
    customers: int
    state_changes: int


def as_payload(event: CrmEvent) -> dict[str, Any]:
    """The event as stored: JSON-ready, exactly the fields that arrived."""
    return event.model_dump(mode="json")
