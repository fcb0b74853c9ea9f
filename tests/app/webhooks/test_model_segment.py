"""A webhook's rescoring names the segment model that scored the customer, stored and sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.tables import Customer, Notification
from tests.app.scoring.test_model_segment import region_bodies
from tests.app.webhooks.test_events import event, post


@pytest.fixture
def registry_dir(segmented_registry_dir: Path) -> Path:
    return segmented_registry_dir


def test_an_event_for_a_segment_customer_stores_and_sends_its_segment(
    client: TestClient, score_key: dict[str, str], db: Session, region_data: Path
) -> None:
    [body] = region_bodies(region_data, "odd", 1)
    body.update(customer_id="acme", visits=500, visits_30d=50, visits_90d=150)
    first = client.post("/v1/predict", json=body, headers=score_key).json()
    # In this region the state follows the visits alone: one visit in the event log, which
    # replaces the inputs given above, moves the customer down the funnel.
    assert post(client, [event(1)]).status_code == 200
    db.expire_all()
    customer = db.get(Customer, "acme")
    assert customer is not None
    assert customer.latest_score is not None
    assert customer.latest_score["seg"] == "odd"
    assert customer.state != first["state"]
    [change] = [
        n.payload
        for n in db.scalars(select(Notification))
        if n.payload["type"] == "customer.state_changed"
    ]
    assert change["model_segment"] == "odd"
    assert change["new_state"] == customer.state
