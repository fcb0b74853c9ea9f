"""DealNode's own webhook event format."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from training.features import InteractionType


class CrmEvent(BaseModel):
    """One interaction as a CRM reports it."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    event_id: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00]+$")
    """Any text but NUL, which no database column takes."""
    customer_id: str = Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    type: InteractionType
    occurred_at: AwareDatetime
    attributes: dict[str, str | float | int | bool | None] = Field(
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
