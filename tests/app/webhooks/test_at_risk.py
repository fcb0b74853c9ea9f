"""A webhook's rescoring stores the at-risk flag through the same advisor as the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.tables import Customer
from tests.app.webhooks.test_events import event, post


def test_an_event_rescores_the_at_risk_flag(
    client: TestClient, db: Session, score_key: dict[str, str]
) -> None:
    payload = [
        event(1, kind="quote"),
        event(2, kind="objection", attributes={"objection_kind": "price"}),
        event(3, kind="objection", attributes={"objection_kind": "trust"}),
    ]
    assert post(client, payload).status_code == 200
    customer = db.get(Customer, "acme")
    assert customer is not None
    assert customer.at_risk is not None
    assert 0 < customer.at_risk < 1
    shown = client.get("/v1/customers/acme", headers=score_key).json()["latest_score"]
    assert shown["at_risk"]["probability"] == pytest.approx(customer.at_risk)
    assert shown["at_risk"]["flagged"] == (customer.at_risk >= 0.5)
