"""Inbound CRM webhooks: signature first, then parse, store once, apply, rescore, commit."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError

from app.deps import RawBody, RuntimeDep, SessionDep
from app.errors import InvalidInput
from app.webhooks import service
from app.webhooks.schemas import CrmEvent, DeliveryRead
from app.webhooks.signature import verify_standard

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
MAX_EVENTS = 1000
_EVENTS = TypeAdapter(list[CrmEvent])


@router.post("/events")
def receive_events(
    request: Request, body: RawBody, session: SessionDep, runtime: RuntimeDep
) -> DeliveryRead:
    """Accept one event or a list, signed with Standard Webhooks; duplicates change nothing."""
    verify_standard(body, request.headers, runtime.settings.webhook_secrets.get("events", []))
    events = _parse(body)
    now = runtime.clock()
    new = service.store_events(session, events, source="events", now=now)
    changes = service.refresh_customers(
        session, runtime.scorer, [e.customer_id for e in new], as_of=now
    )
    session.commit()
    return DeliveryRead(
        accepted=len(new),
        duplicates=len(events) - len(new),
        customers=len({e.customer_id for e in new}),
        state_changes=changes,
    )


def _parse(body: bytes) -> list[CrmEvent]:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"malformed JSON: {exc}", field="body") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise InvalidInput("no events in the delivery", field="body")
    if len(items) > MAX_EVENTS:
        raise InvalidInput(f"{len(items)} events, the limit is {MAX_EVENTS}", field="body")
    try:
        return _EVENTS.validate_python(items)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        value = first.get("input")
        shown = f" ({value!r})" if isinstance(value, str | int | float) else ""
        raise InvalidInput(f"{where}: {first['msg']}{shown}", field=where) from None
