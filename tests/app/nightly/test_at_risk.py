"""The nightly run stores the at-risk flag through the same advisor as the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.tables import Customer
from tests.app.nightly.helpers import later, rescore, runtime_of
from tests.app.seeding import seed
from training.simulation import Simulation


@pytest.mark.parametrize("workers", [0, 1], ids=["here", "in-a-worker"])
def test_rescore_stores_each_customers_new_at_risk_probability(
    client: TestClient,
    score_key: dict[str, str],
    simulation: Simulation,
    db: Session,
    workers: int,
) -> None:
    seed(client, score_key, simulation, 150)
    before = {c.customer_id: c.at_risk for c in db.scalars(select(Customer))}
    assert all(p is not None for p in before.values())
    rescore(runtime_of(client), as_of=later(simulation), chunk_size=70, workers=workers)
    db.expire_all()
    after = list(db.scalars(select(Customer)))
    assert len(after) == 150
    for customer in after:
        assert customer.at_risk is not None
        assert customer.latest_score is not None
        probability, flagged, _ = customer.latest_score["risk"]
        assert probability == pytest.approx(customer.at_risk)
        assert flagged == (customer.at_risk >= 0.5)
    moved = [c for c in after if c.at_risk != pytest.approx(before[c.customer_id])]
    assert len(moved) > 75  # two months of silence change most customers' risk
    shown = client.get(f"/v1/customers/{after[0].customer_id}", headers=score_key).json()
    assert shown["latest_score"]["at_risk"]["probability"] == pytest.approx(after[0].at_risk)
