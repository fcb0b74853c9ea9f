"""HubSpot deliveries: the v3 signature (HubSpot's own test vector), mapping, and refusals."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import Unauthorized
from app.tables import Customer, InteractionEvent
from app.webhooks.hubspot import load_hubspot_mapping, signature_v3, verify_v3
from tests.app.conftest import HUBSPOT_SECRET

URL = "/v1/webhooks/hubspot"


def test_signature_v3_matches_hubspots_own_test_vector() -> None:
    signature = signature_v3(
        "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
        "POST",
        "https://www.example.com/webhook_uri",
        b"{'example_field':'example_value'}",
        "1693657560000",
    )
    assert signature == "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y="


def hubspot_event(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "eventId": 1000 + n,
        "subscriptionId": 7,
        "portalId": 99,
        "occurredAt": int(time.time() * 1000) - 60_000 * n,
        "subscriptionType": "deal.propertyChange",
        "objectId": 555,
        "propertyName": "dealstage",
        "propertyValue": "contractsent",
        "attemptNumber": 0,
        **fields,
    }


def send(client: TestClient, payload: Any, *, age_ms: int = 0, secret: str = HUBSPOT_SECRET) -> Any:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time() * 1000) - age_ms)
    uri = f"http://testserver{URL}"
    headers = {
        "X-HubSpot-Request-Timestamp": stamp,
        "X-HubSpot-Signature-v3": signature_v3(secret, "POST", uri, body, stamp),
        "Content-Type": "application/json",
    }
    return client.post(URL, content=body, headers=headers)


def count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(InteractionEvent)) or 0)


def test_hubspot_delivery_maps_stores_and_ignores_unmapped(client: TestClient, db: Session) -> None:
    payload = [
        hubspot_event(1),
        hubspot_event(2, propertyValue="closedwon"),
        hubspot_event(3, propertyName="amount", propertyValue="100"),
    ]
    response = send(client, payload)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    assert response.json()["ignored"] == 1
    customer = db.get(Customer, "555")
    assert customer is not None
    assert [getattr(customer, n) for n in ("quotes", "purchases")] == [1, 1]
    assert send(client, payload).json()["duplicates"] == 2


@pytest.mark.parametrize(("age_ms", "secret"), [(6 * 60_000, HUBSPOT_SECRET), (0, "wrong")])
def test_hubspot_stale_or_wrongly_signed_is_401(
    client: TestClient, db: Session, age_ms: int, secret: str
) -> None:
    response = send(client, [hubspot_event(1)], age_ms=age_ms, secret=secret)
    assert response.status_code == 401
    assert count(db) == 0


def test_hubspot_delivery_over_100_events_is_refused(client: TestClient, db: Session) -> None:
    response = send(client, [hubspot_event(n) for n in range(101)])
    assert response.status_code == 422
    assert "limit is 100" in response.json()["detail"]
    assert count(db) == 0


def test_hubspot_event_without_an_object_is_422(client: TestClient) -> None:
    broken = hubspot_event(1)
    del broken["objectId"]
    response = send(client, [broken])
    assert response.status_code == 422
    assert "objectId" in response.json()["detail"]


def test_default_hubspot_mapping_is_valid() -> None:
    mapping = load_hubspot_mapping(Settings.model_fields["hubspot_mapping"].default)
    won = mapping.match(
        {
            "subscriptionType": "deal.propertyChange",
            "propertyName": "dealstage",
            "propertyValue": "closedwon",
        }
    )
    assert won is not None
    assert won.type.value == "purchase"
    assert mapping.match({"subscriptionType": "company.deletion"}) is None


def test_a_timestamp_of_non_ascii_digits_is_refused_as_unsigned() -> None:
    with pytest.raises(Unauthorized):
        verify_v3(
            secrets=[HUBSPOT_SECRET],
            method="POST",
            uri=f"http://testserver{URL}",
            body=b"[]",
            timestamp="\u00b2",  # str.isdigit() says yes, int() says no: was a 500
            signature="x",
            now=datetime.now(UTC),
        )
