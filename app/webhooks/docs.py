"""What the OpenAPI document says about webhooks, both ways.

Inbound routes read the raw body (signatures cover its bytes), so FastAPI cannot see their
bodies or signature headers: they are described here. The outbound `customer.state_changed`
notification is built as a dict in `scoring/service.py`; `StateChanged` is its documented shape,
and a test holds the two together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header
from pydantic import BaseModel, ConfigDict, Field

from app.scoring.schemas import AtRiskRead, NextActionRead, ReasonRead
from app.webhooks.hubspot import HubSpotEvent
from app.webhooks.schemas import CrmEvent

_REF = "#/components/schemas/{}"


def inbound_schemas() -> list[type[BaseModel]]:
    """Models the inbound bodies refer to, for the document's components."""
    return [CrmEvent, HubSpotEvent]


def _header(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
        "example": example,
    }


_EVENT_EXAMPLE = {
    "event_id": "evt_000123",
    "customer_id": "crm-10042",
    "type": "objection",
    "occurred_at": "2026-11-30T14:05:00Z",
    "attributes": {"objection_kind": "price"},
}

INBOUND: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/webhooks/events"): {
        "description": (
            "Signed with [Standard Webhooks](https://www.standardwebhooks.com/): an HMAC-SHA256 "
            "of `{webhook-id}.{webhook-timestamp}.{body}` with a `whsec_` secret of source "
            "`events` in DEALNODE_WEBHOOK_SECRETS; older than 5 minutes is refused. Send again "
            "freely: an `event_id` already stored counts as a duplicate and changes nothing."
        ),
        "parameters": [
            _header("webhook-id", "The delivery's id (the same on every retry).", "msg_2b1c9"),
            _header("webhook-timestamp", "Unix seconds when it was signed.", "1764511500"),
            _header(
                "webhook-signature",
                "`v1,<base64 HMAC>`; several may be given, space-separated.",
                "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
            ),
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": _REF.format("CrmEvent")},
                            {
                                "type": "array",
                                "items": {"$ref": _REF.format("CrmEvent")},
                                "minItems": 1,
                                "maxItems": 1000,
                            },
                        ]
                    },
                    "example": [_EVENT_EXAMPLE],
                }
            },
        },
    },
    ("post", "/v1/webhooks/hubspot"): {
        "description": (
            "HubSpot's v3 signature: base64 HMAC-SHA256, with the app secret (source `hubspot` "
            "in DEALNODE_WEBHOOK_SECRETS), of method, full URI, body and timestamp. Events no "
            "mapping rule matches are counted as `ignored`."
        ),
        "parameters": [
            _header(
                "X-HubSpot-Signature-v3",
                "base64 HMAC-SHA256 of method + URI + body + timestamp.",
                "ZWFkYmVlZjAwZGVhZGJlZWYwMGRlYWRiZWVmMDA=",
            ),
            _header(
                "X-HubSpot-Request-Timestamp",
                "Milliseconds since the epoch; older than 5 minutes is refused.",
                "1764511500000",
            ),
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {"$ref": _REF.format("HubSpotEvent")},
                        "minItems": 1,
                        "maxItems": 100,
                    },
                    "example": [
                        {
                            "eventId": 4081,
                            "subscriptionType": "deal.propertyChange",
                            "objectId": 10042,
                            "occurredAt": 1764511500000,
                            "propertyName": "dealstage",
                            "propertyValue": "presentationscheduled",
                        }
                    ],
                }
            },
        },
    },
}
"""Operation fields of the inbound webhook routes, merged into FastAPI's document."""


class StateChanged(BaseModel):
    """Sent to every subscriber (DEALNODE_SUBSCRIBERS) when an event or the nightly run moves
    a customer to another state; a prediction made through the API is not sent."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["customer.state_changed"]
    customer_id: str
    old_state: str | None
    new_state: str
    probabilities: dict[str, float]
    reasons_for: list[ReasonRead]
    reasons_against: list[ReasonRead]
    next_action: NextActionRead
    model_version: str
    model_segment: str | None = Field(
        None, description="The segment whose own model scored the customer; null: the global model."
    )
    as_of: datetime


_WebhookId = Annotated[
    str,
    Header(
        alias="webhook-id",
        description="The notification's id: the same on every retry, dedupe on it.",
    ),
]
_WebhookTimestamp = Annotated[
    str, Header(alias="webhook-timestamp", description="Unix seconds when signed.")
]
_WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description=(
            "`v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{body}` "
            "with DEALNODE_OUTBOUND_SECRET (Standard Webhooks)."
        ),
    ),
]
_DELIVERED: dict[int | str, dict[str, Any]] = {
    200: {"description": "Any 2xx marks it delivered; else it is retried."}
}


class AtRisk(BaseModel):
    """Sent to every subscriber when an event or the nightly run raises a customer's at-risk
    probability from below DEALNODE_AT_RISK_THRESHOLD to at or above it (docs/at_risk.md);
    not for a first score, nor for a prediction made through the API."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["customer.at_risk"]
    customer_id: str
    state: str
    at_risk: AtRiskRead
    next_action: NextActionRead
    model_version: str
    model_segment: str | None = Field(
        None, description="The segment whose own model scored the customer; null: the global model."
    )
    as_of: datetime


def document_outbound(app: FastAPI) -> None:
    """Describe the notifications subscribers receive, under the document's `webhooks`."""

    @app.webhooks.post(
        "customer.state_changed",
        summary="A customer's state changed",
        status_code=200,
        responses=_DELIVERED,
    )
    def customer_state_changed(
        _body: StateChanged,
        _webhook_id: _WebhookId,
        _webhook_timestamp: _WebhookTimestamp,
        _webhook_signature: _WebhookSignature,
    ) -> None:
        """Retried with exponential backoff until a 2xx or the last attempt; at least once."""

    @app.webhooks.post(
        "customer.at_risk",
        summary="A customer became at risk of falling back",
        status_code=200,
        responses=_DELIVERED,
    )
    def customer_at_risk(
        _body: AtRisk,
        _webhook_id: _WebhookId,
        _webhook_timestamp: _WebhookTimestamp,
        _webhook_signature: _WebhookSignature,
    ) -> None:
        """Delivered like `customer.state_changed`: signed, retried, at least once."""
