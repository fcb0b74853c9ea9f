"""A webhook's rescoring stores the at-risk flag through the same advisor as the API, and
tells subscribers when it rises past the threshold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.tables import Customer, Notification
from tests.app.webhooks.test_events import event, post

LOW = 0.01
"""A threshold every scored customer passes, so a rise is certain once the old value is 0."""


@pytest.fixture
def low(settings: Settings, db: Session) -> Iterator[TestClient]:  # noqa: ARG001
    with TestClient(create_app(settings.model_copy(update={"at_risk_threshold": LOW}))) as c:
        yield c


def _alerts(db: Session) -> list[dict[str, Any]]:
    db.expire_all()
    payloads = [n.payload for n in db.scalars(select(Notification))]
    return [p for p in payloads if p["type"] == "customer.at_risk"]


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


def test_a_rise_past_the_threshold_is_notified_once_and_a_first_score_never(
    low: TestClient, db: Session
) -> None:
    assert post(low, [event(1)], msg_id="msg_1").status_code == 200
    assert _alerts(db) == []  # a first score: nothing rose
    db.execute(update(Customer).values(at_risk=0.0))
    db.commit()
    assert post(low, [event(2, kind="quote")], msg_id="msg_2").status_code == 200
    [alert] = _alerts(db)
    customer = db.get(Customer, "acme")
    assert customer is not None
    assert customer.at_risk is not None
    assert alert["customer_id"] == "acme"
    assert alert["at_risk"]["flagged"] is True
    assert alert["at_risk"]["probability"] == pytest.approx(customer.at_risk)
    assert alert["state"] == customer.state
    assert post(low, [event(3)], msg_id="msg_3").status_code == 200
    assert len(_alerts(db)) == 1  # still above: no second alert


def test_the_crms_own_predict_call_is_not_notified(
    low: TestClient, db: Session, score_key: dict[str, str]
) -> None:
    body = {"customer_id": "acme", "visits": 3, "quotes": 1}
    assert low.post("/v1/predict", json=body, headers=score_key).status_code == 200
    db.execute(update(Customer).values(at_risk=0.0))
    db.commit()
    answer = low.post("/v1/predict", json=body, headers=score_key).json()
    assert answer["at_risk"]["flagged"]
    assert _alerts(db) == []
