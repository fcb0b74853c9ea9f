"""HubSpot webhooks: the v3 signature, and a mapping from HubSpot events to interactions.

HubSpot signs with its own scheme (not Standard Webhooks): base64 HMAC-SHA256 over method, full
URI, raw body and the millisecond timestamp header. There is no package for it, so the HMAC is
computed here with the standard library and compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from app.errors import Unauthorized
from app.input_types import CustomerId, EventId
from app.monitoring.observed import Observation
from app.webhooks.schemas import CrmEvent
from training.features import CustomerState, InteractionType
from training.input_rules import EARLIEST_MS, LATEST_MS

TOLERANCE_MS = 5 * 60 * 1000
MAX_EVENTS = 100
STAGE_SUBSCRIPTION = "deal.propertyChange"
STAGE_PROPERTY = "dealstage"


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature of one request."""
    message = method.encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_v3(
    *,
    secrets: Sequence[str],
    method: str,
    uri: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: datetime,
) -> None:
    """Raise Unauthorized (no detail) unless a secret signed this request in the last 5 min."""
    if not timestamp or not signature or not (timestamp.isascii() and timestamp.isdigit()):
        raise Unauthorized("invalid signature")
    if abs(now.timestamp() * 1000 - int(timestamp)) > TOLERANCE_MS:
        raise Unauthorized("invalid signature")
    for secret in secrets:
        expected = signature_v3(secret, method, uri, body, timestamp)
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return
    raise Unauthorized("invalid signature")


class HubSpotRule(BaseModel):
    """One mapping rule."""

    model_config = ConfigDict(extra="forbid")

    subscription: str = Field(min_length=1)
    property: str | None = None
    value: str | None = None
    type: InteractionType
    objection_kind: Literal["price", "after_sales", "trust"] | None = None


class HubSpotMapping(BaseModel):
    """The whole mapping file."""

    model_config = ConfigDict(extra="forbid")

    rule: list[HubSpotRule]
    stage_states: dict[str, CustomerState] = Field(default_factory=dict)
    """Deal stage -> the customer's true state, for live quality (docs/monitoring.md)."""

    def match(self, event: dict[str, Any]) -> HubSpotRule | None:
        """The first rule this HubSpot event satisfies."""
        for rule in self.rule:
            if rule.subscription != event.get("subscriptionType"):
                continue
            if rule.property is not None and rule.property != event.get("propertyName"):
                continue
            if rule.value is not None and rule.value != str(event.get("propertyValue")):
                continue
            return rule
        return None


def load_hubspot_mapping(path: Path) -> HubSpotMapping:
    """Read and validate a mapping file; ValueError names the problem."""
    try:
        return HubSpotMapping.model_validate(tomllib.loads(path.read_text()))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"HubSpot mapping {path}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"HubSpot mapping {path}: {where}: {first['msg']}") from None


def _number_as_text(value: object) -> object:
    """HubSpot's ids are numbers; DealNode's are text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class HubSpotEvent(BaseModel):
    """The fields of a HubSpot webhook event that DealNode reads, held to the same rules as
    DealNode's own events, so a refusal names HubSpot's field."""

    model_config = ConfigDict(extra="allow")

    eventId: Annotated[EventId, BeforeValidator(_number_as_text)]
    subscriptionType: str
    objectId: Annotated[CustomerId, BeforeValidator(_number_as_text)]
    occurredAt: int = Field(
        ge=EARLIEST_MS, lt=LATEST_MS, description="Milliseconds since the epoch, UTC."
    )


_EVENTS = TypeAdapter(list[HubSpotEvent])


def to_crm_events(raw: list[dict[str, Any]], mapping: HubSpotMapping) -> tuple[list[CrmEvent], int]:
    """Convert HubSpot events; return the mapped ones and how many were ignored."""
    events: list[CrmEvent] = []
    for item, parsed in zip(raw, _EVENTS.validate_python(raw), strict=True):
        rule = mapping.match(item)
        if rule is None:
            continue
        attributes: dict[str, str | float | int | bool | None] = {
            "subscription": parsed.subscriptionType
        }
        if rule.objection_kind:
            attributes["objection_kind"] = rule.objection_kind
        events.append(
            CrmEvent(
                event_id=parsed.eventId,
                customer_id=parsed.objectId,
                type=rule.type,
                occurred_at=datetime.fromtimestamp(parsed.occurredAt / 1000, tz=UTC),
                attributes=attributes,
            )
        )
    return events, len(raw) - len(events)


def stage_observations(raw: list[dict[str, Any]], mapping: HubSpotMapping) -> list[Observation]:
    """The true states that deal stage changes in a delivery report (`stage_states`).

    Read from the raw events, whether or not a rule also makes an interaction of them: a
    stage such as "appointment scheduled" says where the customer is without being one.
    Call it after `to_crm_events`, which has checked every event's fields.
    """
    found = []
    for item in raw:
        if item.get("subscriptionType") != STAGE_SUBSCRIPTION:
            continue
        if item.get("propertyName") != STAGE_PROPERTY:
            continue
        state = mapping.stage_states.get(str(item.get("propertyValue")))
        if state is None:
            continue
        event = HubSpotEvent.model_validate(item)
        when = datetime.fromtimestamp(event.occurredAt / 1000, tz=UTC)
        found.append(Observation(event.objectId, state.value, when))
    return found
