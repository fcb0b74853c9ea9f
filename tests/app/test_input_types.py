"""Edge input: extreme times, NUL, lone surrogates and odd ids get a 4xx naming the field,
the same answer on SQLite and PostgreSQL, and every customer stored can be read back."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.tables import Customer, InteractionEvent
from app.webhooks.hubspot import signature_v3
from tests.app.conftest import HUBSPOT_SECRET
from tests.app.webhooks.test_events import event, signed

EARLY = "0001-01-01T00:00:00+01:00"
"""Year 1 at UTC+1: a valid datetime whose UTC value is before year 1."""
LATE = "9999-12-31T23:59:59-01:00"
"""The other end: its UTC value is after year 9999."""
OUT_OF_RANGE = [EARLY, LATE, "1899-12-31T23:59:59Z", "2200-01-01T00:00:00Z"]

Body = Callable[[str], dict[str, Any]]


def post_json(client: TestClient, url: str, body: Any, headers: dict[str, str]) -> Any:
    """Post `body` as JSON with every non-ASCII character escaped, lone surrogates included
    (httpx's own encoder writes UTF-8, which cannot hold them)."""
    content = json.dumps(body).encode()
    return client.post(
        url, content=content, headers={**headers, "content-type": "application/json"}
    )


def post_events(client: TestClient, payload: Any) -> Any:
    body = json.dumps(payload).encode()
    return client.post("/v1/webhooks/events", content=body, headers=signed(body))


def post_hubspot(client: TestClient, payload: Any) -> Any:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time() * 1000))
    uri = "http://testserver/v1/webhooks/hubspot"
    headers = {
        "X-HubSpot-Request-Timestamp": stamp,
        "X-HubSpot-Signature-v3": signature_v3(HUBSPOT_SECRET, "POST", uri, body, stamp),
        "Content-Type": "application/json",
    }
    return client.post("/v1/webhooks/hubspot", content=body, headers=headers)


def hubspot_event(**fields: Any) -> dict[str, Any]:
    return {
        "eventId": 4242,
        "occurredAt": int(time.time() * 1000) - 60_000,
        "subscriptionType": "deal.propertyChange",
        "objectId": 555,
        "propertyName": "dealstage",
        "propertyValue": "contractsent",
        **fields,
    }


def stored_events(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(InteractionEvent)) or 0)


def stored_customers(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Customer)) or 0)


def assert_names(response: Any, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["field"] == field, problem
    assert problem["detail"]


# Times: aware, and within 1900-01-01 (included) to 2200-01-01 (excluded) UTC.


@pytest.mark.parametrize("when", OUT_OF_RANGE)
@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/v1/predict", lambda t: {"as_of": t}, "as_of"),
        ("/v1/predict", lambda t: {"customer_id": "y1", "first_contact_at": t}, "first_contact_at"),
        ("/v1/predict", lambda t: {"customer_id": "y1", "last_contact_at": t}, "last_contact_at"),
        ("/v1/predict/batch", lambda t: {"as_of": t, "customers": [{"visits": 1}]}, "as_of"),
        (
            "/v1/predict/batch",
            lambda t: {"customers": [{"visits": 1}, {"customer_id": "y1", "first_contact_at": t}]},
            "customers.1.first_contact_at",
        ),
    ],
)
def test_a_time_outside_the_range_is_422_naming_it(
    client: TestClient,
    admin_key: dict[str, str],
    db: Session,
    url: str,
    body: Body,
    field: str,
    when: str,
) -> None:
    assert_names(post_json(client, url, body(when), admin_key), 422, field)
    assert stored_customers(db) == 0


def test_the_range_starts_at_its_first_instant(
    client: TestClient, admin_key: dict[str, str]
) -> None:
    body = {"customer_id": "y1900", "first_contact_at": "1900-01-01T01:00:00+01:00"}
    assert client.post("/v1/predict", json=body, headers=admin_key).status_code == 200
    read = client.get("/v1/customers/y1900", headers=admin_key).json()
    assert read["inputs"]["first_contact_at"].startswith("1900-01-01T00:00:00")


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_an_event_time_outside_the_range_is_422_and_stores_nothing(
    client: TestClient, db: Session, when: str
) -> None:
    response = post_events(client, [event(1), {**event(2), "occurred_at": when}])
    assert_names(response, 422, "1.occurred_at")
    assert stored_events(db) == 0


@pytest.mark.parametrize("millis", [10**15, 7_258_118_400_000, -2_208_988_800_001])
def test_a_hubspot_time_outside_the_range_is_422_naming_occurred_at(
    client: TestClient, db: Session, millis: int
) -> None:
    response = post_hubspot(client, [hubspot_event(), hubspot_event(eventId=1, occurredAt=millis)])
    assert_names(response, 422, "1.occurredAt")
    assert stored_events(db) == 0


# Text that reaches the database: no NUL (PostgreSQL refuses it), no lone surrogate (no
# UTF-8 encoding holds it).


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/v1/customers/a%00b", 422, "customer_id"),
        ("/v1/runs/%00", 422, "run_id"),
        ("/v1/customers?action=%00", 422, "action"),
        ("/v1/customers?action=a%00b", 422, "action"),
    ],
)
def test_nul_in_a_lookup_is_422_on_every_database(
    client: TestClient, admin_key: dict[str, str], url: str, status: int, field: str
) -> None:
    assert_names(client.get(url, headers=admin_key), status, field)


def test_a_cursor_holding_nul_is_422(client: TestClient, admin_key: dict[str, str]) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps([0.5, "a\u0000b"]).encode()).decode()
    response = client.get("/v1/customers", params={"cursor": cursor}, headers=admin_key)
    assert_names(response, 422, "cursor")


def test_retrying_a_notification_named_with_nul_is_422(
    client: TestClient, admin_key: dict[str, str]
) -> None:
    response = client.post("/v1/notifications/%00/retry", headers=admin_key)
    assert_names(response, 422, "notification_id")


@pytest.mark.parametrize(
    ("attributes", "named"),
    [({"note": "a\u0000b"}, "'note'"), ({"a\u0000": 1}, "'a\\x00'")],
)
def test_nul_in_event_attributes_is_422_and_stores_nothing(
    client: TestClient, db: Session, attributes: dict[str, Any], named: str
) -> None:
    response = post_events(client, [event(1, attributes=attributes)])
    assert_names(response, 422, "0.attributes")
    assert named in response.json()["detail"]
    assert stored_events(db) == 0


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/v1/predict", {"customer_id": "sur1", "extras": {"segment": "\ud800"}}, "extras"),
        ("/v1/predict", {"customer_id": "sur1", "extras": {"\ud800": 1}}, "extras"),
        ("/v1/predict", {"customer_id": "sur1", "extras": {"segment": "a\u0000"}}, "extras"),
        (
            "/v1/predict/batch",
            {"customers": [{"visits": 1}, {"customer_id": "sur1", "extras": {"\ud800": "x"}}]},
            "customers.1.extras",
        ),
    ],
)
def test_unstorable_text_in_extras_is_422_naming_extras(
    client: TestClient,
    admin_key: dict[str, str],
    db: Session,
    url: str,
    body: dict[str, Any],
    field: str,
) -> None:
    response = post_json(client, url, body, admin_key)
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith(field)
    assert stored_customers(db) == 0


# Ids: 1 to 128 printable ASCII characters, no "/", not "." or "..".

ODD_BUT_VALID_IDS = ["acme:42", "user+tag@example.com", "50%", "a?b", "x#1", "a\\b", "...", "{7}"]


@pytest.mark.parametrize("customer_id", ODD_BUT_VALID_IDS)
def test_every_id_the_api_stores_can_be_read_back(
    client: TestClient, admin_key: dict[str, str], customer_id: str
) -> None:
    body = {"customer_id": customer_id, "visits": 2}
    assert client.post("/v1/predict", json=body, headers=admin_key).status_code == 200
    response = client.get(f"/v1/customers/{quote(customer_id, safe='')}", headers=admin_key)
    assert response.status_code == 200, response.text
    assert response.json()["customer_id"] == customer_id


BAD_IDS = ["a/b", "/", ".", "..", "a b", "caf\u00e9", "x" * 129]


@pytest.mark.parametrize("customer_id", BAD_IDS)
def test_an_id_breaking_the_rule_is_refused_wherever_it_enters(
    client: TestClient, admin_key: dict[str, str], db: Session, customer_id: str
) -> None:
    single = post_json(client, "/v1/predict", {"customer_id": customer_id}, admin_key)
    assert_names(single, 422, "customer_id")
    batch = {"customers": [{"visits": 1}, {"customer_id": customer_id}]}
    assert_names(
        post_json(client, "/v1/predict/batch", batch, admin_key), 422, "customers.1.customer_id"
    )
    assert_names(post_events(client, [event(1, customer=customer_id)]), 422, "0.customer_id")
    assert_names(post_hubspot(client, [hubspot_event(objectId=customer_id)]), 422, "0.objectId")
    assert stored_customers(db) == 0
    assert stored_events(db) == 0


def legacy_customer(db: Session, customer_id: str, confidence: float) -> None:
    """A customer stored before ids with "/" were refused."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    db.add(
        Customer(
            customer_id=customer_id,
            inputs_as_of=now,
            extras={},
            created_at=now,
            updated_at=now,
            state="interested",
            confidence=confidence,
            action_code="follow_up",
            scored_at=now,
            model_version="legacy",
        )
    )
    db.commit()


def test_a_stored_id_with_a_slash_stays_readable(
    client: TestClient, admin_key: dict[str, str], db: Session
) -> None:
    legacy_customer(db, "crm/7", 0.9)
    legacy_customer(db, "crm/8", 0.8)
    for path in ("crm%2F7", "crm/7"):
        response = client.get(f"/v1/customers/{path}", headers=admin_key)
        assert response.status_code == 200, response.text
        assert response.json()["customer_id"] == "crm/7"
    first = client.get("/v1/customers", params={"limit": 1}, headers=admin_key).json()
    assert [item["customer_id"] for item in first["items"]] == ["crm/7"]
    cursor = first["next_cursor"]
    second = client.get("/v1/customers", params={"limit": 1, "cursor": cursor}, headers=admin_key)
    assert second.status_code == 200, second.text
    assert [item["customer_id"] for item in second.json()["items"]] == ["crm/8"]


def test_a_lookup_of_a_valid_id_that_names_nothing_is_still_404(
    client: TestClient, admin_key: dict[str, str]
) -> None:
    assert_names(client.get("/v1/customers/crm%2F9", headers=admin_key), 404, "customer_id")
    assert_names(client.get("/v1/runs/nothing", headers=admin_key), 404, "run_id")
    response = client.post("/v1/notifications/msg_none/retry", headers=admin_key)
    assert_names(response, 404, "notification_id")
