"""Inbound CRM webhooks: signature first, then parse; the intake stores, applies, commits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from app.deps import HubSpotMappingDep, IntakeDep, RawBody, SessionmakerDep, SettingsDep
from app.errors import InvalidInput
from app.monitoring import observed
from app.webhooks import hubspot
from app.webhooks.outcomes import counted
from app.webhooks.schemas import CrmEvent, DeliveryRead
from app.webhooks.signature import verify_standard

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
MAX_EVENTS = 1000
_EVENTS = TypeAdapter(list[CrmEvent])
_NOTHING = DeliveryRead(accepted=0, duplicates=0, ignored=0, customers=0, state_changes=0)
"""What a delivery of state reports alone does to the interactions."""
T = TypeVar("T")


# The routes are `async`: checking a signature and parsing a delivery take microseconds, and
# the database work happens in the intake's thread, for many deliveries at once.


@router.post("/events")
@counted("events")
async def receive_events(
    request: Request,
    body: RawBody,
    settings: SettingsDep,
    intake: IntakeDep,
    sessions: SessionmakerDep,
) -> DeliveryRead:
    """Accept one event or a list, signed with Standard Webhooks; duplicates change nothing.

    An item with `crm_state` (one of the five states) in place of `type` reports the state
    the CRM has the customer in: it is kept as a true state for live quality."""
    verify_standard(body, request.headers, settings.webhook_secrets.get("events", []))
    items = _json_list(body, limit=MAX_EVENTS)
    interactions, states = observed.split_reports(items, now=datetime.now(UTC))
    places = [i for i, item in enumerate(items) if not observed.is_report(item)]
    events = _validated(lambda: _EVENTS.validate_python(interactions), places)
    read = await intake.apply("events", events) if events else _NOTHING
    if states:
        await run_in_threadpool(observed.store, sessions, states, source="events")
    return read


@router.post("/hubspot")
@counted("hubspot")
async def receive_hubspot(
    request: Request,
    body: RawBody,
    settings: SettingsDep,
    mapping: HubSpotMappingDep,
    intake: IntakeDep,
    sessions: SessionmakerDep,
) -> DeliveryRead:
    """Accept a HubSpot delivery (up to 100 events) signed with HubSpot's v3 signature.

    A deal stage change the mapping's `stage_states` names is also kept as a true state."""
    base = settings.public_url
    uri = str(request.url) if base is None else base.rstrip("/") + _path_and_query(request)
    hubspot.verify_v3(
        secrets=settings.webhook_secrets.get("hubspot", []),
        method=request.method,
        uri=uri,
        body=body,
        timestamp=request.headers.get("x-hubspot-request-timestamp"),
        signature=request.headers.get("x-hubspot-signature-v3"),
        now=datetime.now(UTC),
    )
    items = _json_list(body, limit=hubspot.MAX_EVENTS)
    events, ignored = _validated(lambda: hubspot.to_crm_events(items, mapping))
    states = hubspot.stage_observations(items, mapping)
    read = await intake.apply("hubspot", events, ignored=ignored)
    if states:
        await run_in_threadpool(observed.store, sessions, states, source="hubspot")
    return read


def _path_and_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _json_list(body: bytes, *, limit: int) -> list[Any]:
    try:
        # orjson refuses what could not be stored later: NaN, lone surrogates, invalid UTF-8
        # (and reads integers beyond 64 bits as floats, which it can write back).
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}", field="body") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise InvalidInput("no events in the delivery", field="body")
    if len(items) > limit:
        raise InvalidInput(f"{len(items)} events, the limit is {limit}", field="body")
    if not all(isinstance(item, dict) for item in items):
        raise InvalidInput("every event must be a JSON object", field="body")
    return items


def _validated(parse: Callable[[], T], places: list[int] | None = None) -> T:
    """`parse()`, its first error as InvalidInput; `places`: each parsed item's place in the
    delivery, when some items were taken out before parsing."""
    try:
        return parse()
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = list(first["loc"])
        if places is not None and loc and isinstance(loc[0], int):
            loc[0] = places[loc[0]]
        where = ".".join(str(p) for p in loc)
        value = first.get("input")
        shown = f" ({value!r})" if isinstance(value, str | int | float) else ""
        raise InvalidInput(f"{where}: {first['msg']}{shown}", field=where) from None
